"""Views (read side): incident timelines, pictures, reports and the Grafana dashboards."""
