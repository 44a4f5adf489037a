"""Open AnnotationTarget to the data source's own query fields.

@grafana/schema types an annotation's `target` with the four fields of Grafana's built-in
annotation source only (its own comment: "this should be a regular DataQuery that depends on the
selected dashboard"); a PostgreSQL annotation carries its query there (`rawSql`, `format`, `refId`),
as Grafana saves it. The generated schema closes the object; this reopens it and nothing else.
Run by generate.sh after the generator.
"""

import json
import sys
from pathlib import Path

path = Path(sys.argv[1])
schema = json.loads(path.read_text())
schema["definitions"]["AnnotationTarget"]["additionalProperties"] = True
path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
