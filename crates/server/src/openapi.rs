//! The OpenAPI 3.0 document served at `/openapi.json`, written by hand next
//! to the handlers it describes (`api.rs`). `bench/schemathesis.sh` checks
//! it against a running server; a unit test checks it is valid JSON and
//! names every route.

/// The document, verbatim.
pub const DOCUMENT: &str = r##"{
  "openapi": "3.0.3",
  "info": {
    "title": "Bearing API",
    "version": "1",
    "description": "Ingest delivery events, ask the guardrails for decisions (also through OPA's data API), and read the scorecard, metrics, decision log, delivery plans and actions. Authenticate with `Authorization: Bearer <token>`; tokens carry scopes ingest, decide, read or admin."
  },
  "servers": [{"url": "/"}],
  "security": [{"bearer": []}],
  "paths": {
    "/v1/events": {
      "post": {
        "summary": "Ingest events (Bearing JSON/JSONL, CDEvents, GitLab webhooks, SARIF, Trivy, Grype, FOCUS, OpenCost, Infracost)",
        "description": "The batch is stored whole or not at all; the answer comes after the store committed it (with `--bus`: after JetStream acknowledged every event of it; when the bus does not take them, 503 `busy` with `Retry-After`, and sending the batch again is safe). A bad record is a 422 naming it as `bearing ingest` does, counted from 1: `line N` (JSONL), `record N` (item of a JSON array), `row N` (CSV, the header is row 1), else `event N`; `details` holds `record`, `field` and `format`, and nothing is stored. Scope: ingest.",
        "parameters": [
          {"name": "format", "in": "query", "required": false, "schema": {"type": "string", "enum": ["bearing", "bearing-csv", "cdevents", "gitlab", "sarif", "trivy", "grype", "focus", "opencost", "infracost", "json", "jsonl", "ndjson", "bearing-json", "bearing-jsonl", "csv", "gitlab-webhook", "gitlab_webhook", "gl", "cdevent", "focus-csv"]}, "description": "Format name; detected from the body when absent."},
          {"name": "service", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "env", "in": "query", "required": false, "schema": {"type": "string"}}
        ],
        "requestBody": {"required": true, "content": {
          "application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/Event"}, {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}]}},
          "application/x-ndjson": {"schema": {"type": "string", "description": "One Bearing or CDEvents JSON object per line."}}
        }},
        "responses": {
          "200": {"description": "Nothing new (every event was already stored)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}},
          "201": {"description": "Events stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "408": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "415": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/webhooks/github": {
      "post": {
        "summary": "GitHub webhook delivery",
        "description": "Checked with `X-Hub-Signature-256` against the server's `BEARING_GITHUB_SECRET` over the body as sent; no bearer token. Either content type GitHub offers: `application/json`, or `application/x-www-form-urlencoded` with the JSON in `payload`. A delivery Bearing cannot use is a 422 naming the record and field like `POST /v1/events`; nothing is stored.",
        "security": [],
        "parameters": [
          {"name": "X-GitHub-Event", "in": "header", "required": true, "schema": {"type": "string"}},
          {"name": "X-GitHub-Delivery", "in": "header", "required": false, "schema": {"type": "string"}},
          {"name": "X-Hub-Signature-256", "in": "header", "required": true, "schema": {"type": "string"}}
        ],
        "requestBody": {"required": true, "content": {
          "application/json": {"schema": {"type": "object"}},
          "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"payload": {"type": "string", "description": "The delivery's JSON (GitHub's default content type)."}}, "required": ["payload"]}}
        }},
        "responses": {
          "200": {"description": "Ping answered, or nothing new", "content": {"application/json": {"schema": {"type": "object"}}}},
          "201": {"description": "Events stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "408": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/decide": {
      "post": {
        "summary": "Decide on one change",
        "description": "Evaluates the guardrails on a change envelope against the in-memory snapshot of outcomes and plans; the decision is logged asynchronously. A service or environment the intent does not declare is refused with 422 (`details.field`, `details.suggestion`). Heavy decisions (attachments, custom Rego) run on the evaluation pool; past its queue the answer is 503 `busy` with `Retry-After`. Scope: decide.",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}},
        "responses": {
          "200": {"description": "The decision", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Decision"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "408": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "415": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/data": {
      "post": {
        "summary": "OPA data API: the whole `data` document",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DataRequest"}}}},
        "responses": {
          "200": {"description": "`{\"result\": …}`, or `{}` when undefined", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DataResult"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "408": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "415": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/data/{path}": {
      "post": {
        "summary": "OPA data API: `data.<path>` for an input",
        "description": "Compatible with OPA's `POST /v1/data/{path}`: `{\"input\": …}` → `{\"result\": …}`. `bearing/decision` is the decision `POST /v1/decide` makes on `input` (logged the same way); `bearing/plans` and `bearing/outcomes` are the live delivery plans and outcomes; other paths are evaluated on the built-in guardrails' Rego modules. Scope: decide.",
        "parameters": [{"name": "path", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$"}, "description": "Slash-separated path of Rego names, e.g. `bearing/decision`."}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DataRequest"}}}},
        "responses": {
          "200": {"description": "`{\"result\": …}`, or `{}` when undefined", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DataResult"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "408": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "415": {"$ref": "#/components/responses/Error"},
          "422": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/scorecard": {
      "get": {
        "summary": "The scorecard of objectives and key results",
        "description": "The same figures as `bearing report --output json` with the same `--service`, `--team` and `--window`. Scope: read.",
        "parameters": [
          {"name": "service", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "team", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "window", "in": "query", "required": false, "schema": {"type": "string"}, "description": "One window for every key result instead of each one's own (`bearing report --window`), e.g. `90d`; at most `36500d`; `0s`, longer or not a duration is a 400."}
        ],
        "responses": {
          "200": {"description": "The scorecard", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Scorecard"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/metrics/{name}": {
      "get": {
        "summary": "One metric for a scope and window",
        "description": "Scope: read.",
        "parameters": [
          {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}, "description": "A catalog metric, e.g. `dora.lead_time.p50`."},
          {"name": "service", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "team", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "environment", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "window", "in": "query", "required": false, "schema": {"type": "string"}, "description": "e.g. `30d` (default)."},
          {"name": "filter", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Key-result filter as `bearing explain --filter` takes it, e.g. `severity=critical,high`; several joined by `;`."}
        ],
        "responses": {
          "200": {"description": "The value", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MetricValue"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/explain/{metric}": {
      "get": {
        "summary": "A metric and every record behind it",
        "description": "Scope: read.",
        "parameters": [
          {"name": "metric", "in": "path", "required": true, "schema": {"type": "string"}},
          {"name": "service", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "team", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "environment", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "window", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "filter", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Key-result filter as `bearing explain --filter` takes it, e.g. `severity=critical,high`; several joined by `;`."}
        ],
        "responses": {
          "200": {"description": "The explanation", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Explanation"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/pipelines": {
      "get": {
        "summary": "Pipeline insights: per pipeline and job figures, a typical run with its critical path, and what to change",
        "description": "What `bearing pipelines insights --output json` prints, without workflow file lines. Definitions in docs/metrics.md (Pipeline jobs and steps; Critical path and insights). Scope: read.",
        "parameters": [
          {"name": "service", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "team", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "environment", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "window", "in": "query", "required": false, "schema": {"type": "string"}, "description": "e.g. `30d` (default)."}
        ],
        "responses": {
          "200": {"description": "The report", "content": {"application/json": {"schema": {"type": "object", "required": ["from", "to", "pipelines", "insights"], "properties": {"from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}, "pipelines": {"type": "array", "items": {"type": "object"}}, "insights": {"type": "array", "items": {"type": "object", "required": ["kind", "objective", "service", "pipeline", "message", "minutes_per_week", "money_per_week", "run_seconds", "lead_time_minutes_per_week", "records", "record_count"]}}}}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/decisions": {
      "get": {
        "summary": "The decision log, newest first",
        "description": "Scope: read.",
        "parameters": [
          {"name": "service", "in": "query", "required": false, "schema": {"type": "string"}},
          {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615}, "description": "At most 1000 (default 100)."}
        ],
        "responses": {
          "200": {"description": "Decisions", "content": {"application/json": {"schema": {"type": "object", "required": ["decisions"], "properties": {"decisions": {"type": "array", "items": {"$ref": "#/components/schemas/DecisionRecord"}}}}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/decisions/{id}": {
      "get": {
        "summary": "One logged decision",
        "description": "Scope: read.",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {"description": "The decision record", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecisionRecord"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/plans": {
      "get": {
        "summary": "Delivery plans per service",
        "description": "Scope: read.",
        "responses": {
          "200": {"description": "Plans", "content": {"application/json": {"schema": {"type": "object", "required": ["plans"], "properties": {"plans": {"type": "array", "items": {"$ref": "#/components/schemas/DeliveryPlan"}}}}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/outcomes": {
      "get": {
        "summary": "Outcomes snapshot: live outcomes and delivery plans, as `bearing outcomes export` writes them",
        "description": "Error budget, change failure rate, spend vs budget and findings per service, and each service's delivery plan (strategy, freeze), from the server's in-memory snapshot. A CI runner without the server passes it to `bearing check --outcomes` (the generated gate fetches it when `BEARING_OUTCOMES` is this URL). Scope: read.",
        "responses": {
          "200": {"description": "The snapshot", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OutcomesSnapshot"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/notifications": {
      "get": {
        "summary": "Notification delivery log, newest first",
        "description": "One record per notification and destination: the idempotency key (derived from the change, so a change seen twice is sent once), kind, subject, destination, text, status (`pending`, `sent`, `failed`), attempts and last error. Scope: read.",
        "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}],
        "responses": {
          "200": {"description": "The log", "content": {"application/json": {"schema": {"type": "object", "required": ["notifications"], "properties": {"notifications": {"type": "array", "items": {"$ref": "#/components/schemas/Notification"}}}}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/security/priorities": {
      "get": {
        "summary": "Open findings by threat-aware priority, with their evidence",
        "description": "`bearing security priorities --output json`: every open finding of the scope with its KEV entry, EPSS score, SLA and priority (severity × likelihood × tier × exposure, docs/metrics.md), the security figures now and once the top `top` findings are fixed, and the key results on them. Scope: read.",
        "parameters": [
          {"name": "service", "in": "query", "schema": {"type": "string"}},
          {"name": "team", "in": "query", "schema": {"type": "string"}},
          {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 5}}
        ],
        "responses": {
          "200": {"description": "The work list", "content": {"application/json": {"schema": {"type": "object", "required": ["findings", "now", "after_top_n", "top_n", "feeds", "key_results"]}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/actions": {
      "get": {
        "summary": "Actions (recommendations and plan changes) with their measured effect",
        "description": "Scope: read.",
        "responses": {
          "200": {"description": "Actions", "content": {"application/json": {"schema": {"type": "object", "required": ["actions"], "properties": {"actions": {"type": "array", "items": {"$ref": "#/components/schemas/Action"}}}}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/v1/reconcile": {
      "post": {
        "summary": "Run the adaptation rules now",
        "description": "Scope: admin. The server also runs reconcile on a schedule.",
        "responses": {
          "200": {"description": "What reconcile did", "content": {"application/json": {"schema": {"type": "object"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"},
          "503": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/metrics": {
      "get": {
        "summary": "Prometheus metrics",
        "description": "Scope: read.",
        "responses": {
          "200": {"description": "Prometheus text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}},
          "401": {"$ref": "#/components/responses/Error"},
          "403": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/healthz": {
      "get": {
        "summary": "Liveness",
        "security": [],
        "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}}}}}}
      }
    },
    "/readyz": {
      "get": {
        "summary": "Readiness: the store answers and the policies are loaded",
        "security": [],
        "responses": {
          "200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}},
          "503": {"description": "Not ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "responses": {
      "Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
          "code": {"type": "string"}, "message": {"type": "string"}, "details": {"nullable": true}
        }}}
      },
      "IngestResult": {
        "type": "object", "required": ["format", "accepted", "duplicates", "skipped"],
        "properties": {
          "format": {"type": "string"},
          "accepted": {"type": "integer", "minimum": 0},
          "duplicates": {"type": "integer", "minimum": 0},
          "skipped": {"type": "array", "items": {"type": "string"}},
          "delivery": {"type": "string", "nullable": true},
          "via": {"type": "string", "enum": ["bus"], "description": "Present when the server runs with `--bus`: the events are durable in the JetStream stream and the replicas' consumers store them; `accepted` counts what the stream took as new, `duplicates` what NATS dropped inside its duplicate window."}
        }
      },
      "Event": {
        "type": "object", "required": ["id", "source", "time", "kind", "data"],
        "description": "A Bearing event (docs/formats.md); `data` depends on `kind`.",
        "properties": {
          "id": {"type": "string", "minLength": 1}, "source": {"type": "string", "minLength": 1},
          "time": {"type": "string", "format": "date-time"},
          "service": {"type": "string"}, "environment": {"type": "string"},
          "kind": {"type": "string", "enum": ["change", "pipeline_run", "deployment", "rollback", "incident", "cost", "finding", "metric_point", "feature_flag"]},
          "data": {"type": "object"},
          "links": {"type": "array", "items": {"type": "object", "required": ["rel", "target"], "properties": {"rel": {"type": "string"}, "target": {"type": "string"}}}},
          "attributes": {"type": "object"}
        }
      },
      "Envelope": {
        "type": "object",
        "properties": {
          "service": {"type": "string"},
          "environment": {"type": "string"},
          "version": {"type": "string", "nullable": true},
          "commit": {"type": "string", "nullable": true},
          "author": {"type": "string", "nullable": true},
          "labels": {"type": "array", "items": {"type": "string"}},
          "change_size": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615, "nullable": true},
          "strategy": {"type": "string", "nullable": true},
          "checks": {"type": "object", "additionalProperties": {"type": "string"}},
          "attachments": {"type": "object", "properties": {
            "terraform_plans": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
            "manifests": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
            "scans": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
            "cost": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}}
          }}
        }
      },
      "Attachment": {"type": "object", "properties": {"file": {"type": "string"}, "content": {}, "locations": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 4294967295}, "minItems": 2, "maxItems": 2}}}},
      "Decision": {
        "type": "object", "required": ["id", "time", "result", "violations", "input_digest", "policy_revision"],
        "properties": {
          "id": {"type": "string"},
          "time": {"type": "string", "format": "date-time"},
          "result": {"type": "string", "enum": ["allow", "warn", "deny", "unknown"]},
          "violations": {"type": "array", "items": {"$ref": "#/components/schemas/Violation"}},
          "expired_waivers": {"type": "array", "items": {"type": "object"}},
          "evaluated": {"type": "array", "items": {"type": "string"}},
          "errors": {"type": "array", "items": {"type": "string"}},
          "input_digest": {"type": "string"},
          "policy_revision": {"type": "string"},
          "elapsed_us": {"type": "integer", "minimum": 0}
        }
      },
      "Violation": {
        "type": "object", "required": ["guardrail", "kind", "rule", "effect", "message"],
        "properties": {
          "guardrail": {"type": "string"}, "kind": {"type": "string"}, "rule": {"type": "string"},
          "objective": {"type": "string"}, "mode": {"type": "string"},
          "effect": {"type": "string", "enum": ["deny", "warn", "unknown", "audit"]},
          "severity": {"type": "string"}, "message": {"type": "string"},
          "location": {"type": "object"},
          "related_locations": {"type": "array", "items": {"type": "object"}, "description": "other places the finding was reported at (a SARIF result's place in its report)"},
          "remediation": {"type": "string"}, "waiver": {"type": "object"}
        }
      },
      "DataRequest": {"type": "object", "properties": {"input": {"nullable": true}}},
      "DataResult": {"type": "object", "properties": {"result": {}}},
      "Scorecard": {
        "type": "object", "required": ["generated_at", "summary", "objectives"],
        "properties": {
          "generated_at": {"type": "string", "format": "date-time"},
          "organisation": {"type": "string"},
          "filter": {"type": "object"},
          "summary": {"type": "object", "properties": {"met": {"type": "integer"}, "at_risk": {"type": "integer"}, "off_track": {"type": "integer"}, "no_data": {"type": "integer"}}},
          "objectives": {"type": "array", "items": {"type": "object", "required": ["id", "layer", "status", "key_results"], "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "layer": {"type": "string"},
            "status": {"type": "string", "enum": ["met", "at_risk", "off_track", "no_data"]},
            "key_results": {"type": "array", "items": {"type": "object", "required": ["metric", "target", "status"], "properties": {
              "metric": {"type": "string"}, "target": {"type": "string"}, "value": {"type": "number", "nullable": true},
              "display": {"type": "string"}, "status": {"type": "string", "enum": ["met", "at_risk", "off_track", "no_data"]},
              "samples": {"type": "integer"}, "too_few_samples": {"type": "boolean"}
            }}}
          }}}
        }
      },
      "MetricValue": {
        "type": "object", "required": ["metric", "unit", "samples", "too_few_samples"],
        "properties": {
          "metric": {"type": "string"}, "value": {"type": "number", "nullable": true}, "unit": {"type": "string"},
          "samples": {"type": "integer", "minimum": 0}, "too_few_samples": {"type": "boolean"},
          "level": {"type": "string", "nullable": true}, "records": {"type": "array", "items": {"type": "string"}},
          "note": {"type": "string", "nullable": true}, "currency": {"type": "string", "nullable": true}
        }
      },
      "Explanation": {
        "type": "object", "required": ["metric", "value", "records"],
        "properties": {
          "metric": {"type": "string"}, "scope": {"type": "object"}, "window_seconds": {"type": "integer"},
          "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
          "value": {"$ref": "#/components/schemas/MetricValue"},
          "records": {"type": "array", "items": {"type": "object", "required": ["event_id", "kind", "time", "role"], "properties": {
            "event_id": {"type": "string"}, "kind": {"type": "string"}, "time": {"type": "string", "format": "date-time"},
            "service": {"type": "string"}, "environment": {"type": "string"}, "role": {"type": "string"},
            "value": {"type": "number"}, "confidence": {"type": "number"}
          }}}
        }
      },
      "DecisionRecord": {
        "type": "object", "required": ["id", "time", "result", "input_digest", "policy_revision", "input", "decision"],
        "properties": {
          "id": {"type": "string"}, "time": {"type": "string", "format": "date-time"},
          "service": {"type": "string"}, "environment": {"type": "string"},
          "result": {"type": "string"}, "input_digest": {"type": "string"}, "policy_revision": {"type": "string"},
          "input": {}, "decision": {}
        }
      },
      "OutcomesSnapshot": {
        "type": "object",
        "required": ["generated_at", "services", "plans"],
        "properties": {
          "generated_at": {"type": "string", "format": "date-time"},
          "services": {"type": "object", "additionalProperties": {"type": "object", "description": "error_budget_remaining, change_failure_rate, deployment_frequency_per_day, lead_time_p50_seconds, monthly_cost, monthly_budget, forecast_monthly_cost, spend_vs_budget, currency, findings_past_sla, open_findings, samples, burn_alerts, threats (open findings known exploited or with EPSS ≥ 0.1)"}},
          "plans": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/DeliveryPlan"}}
        }
      },
      "Notification": {
        "type": "object", "required": ["key", "kind", "subject", "destination", "summary", "status", "attempts", "created_at", "updated_at"],
        "properties": {
          "key": {"type": "string"},
          "kind": {"type": "string", "enum": ["kr_status", "service_frozen", "strategy_changed", "production_deny", "waiver_expiring", "anomaly"]},
          "subject": {"type": "string"}, "destination": {"type": "string"}, "summary": {"type": "string"},
          "status": {"type": "string", "enum": ["pending", "sent", "failed"]},
          "attempts": {"type": "integer", "minimum": 0}, "last_error": {"type": "string"},
          "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}
        }
      },
      "DeliveryPlan": {
        "type": "object", "required": ["service", "strategy", "freeze", "extra_gates", "reasons", "updated_at"],
        "properties": {
          "service": {"type": "string"}, "strategy": {"type": "string"}, "freeze": {"type": "boolean"},
          "extra_gates": {"type": "array", "items": {"type": "string"}}, "reasons": {"type": "array", "items": {"type": "string"}},
          "updated_at": {"type": "string", "format": "date-time"}
        }
      },
      "Action": {
        "type": "object", "required": ["id", "created_at", "origin", "summary", "status", "metric", "evidence"],
        "properties": {
          "id": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}, "service": {"type": "string"},
          "origin": {"type": "string"}, "summary": {"type": "string"},
          "status": {"type": "string", "enum": ["proposed", "applied", "dismissed", "reverted"]},
          "metric": {"type": "string"}, "baseline": {"type": "number"}, "evaluate_at": {"type": "string", "format": "date-time"},
          "outcome": {}, "evidence": {}, "change": {}
        }
      },
      "Ready": {
        "type": "object", "required": ["status", "store", "policies_loaded"],
        "properties": {
          "status": {"type": "string", "enum": ["ready", "not_ready"]}, "store": {"type": "string"},
          "policies_loaded": {"type": "boolean"}, "policy_revision": {"type": "string"},
          "snapshot_age_seconds": {"type": "number"},
          "prometheus": {
            "type": "object", "description": "The SLI sync from Prometheus, when an SLO names a source; never makes the server unready",
            "required": ["state", "slos"],
            "properties": {
              "state": {"type": "string", "enum": ["pending", "ok", "backing_off"]},
              "slos": {"type": "array", "items": {"type": "object", "required": ["service", "slo", "url", "state", "failures", "points_stored"], "properties": {
                "service": {"type": "string"}, "slo": {"type": "string"}, "url": {"type": "string"},
                "state": {"type": "string", "enum": ["pending", "ok", "backing_off"]},
                "last_success": {"type": "string", "format": "date-time"},
                "last_error": {"type": "string"}, "last_error_at": {"type": "string", "format": "date-time"},
                "failures": {"type": "integer"}, "retry_at": {"type": "string", "format": "date-time"},
                "synced_to": {"type": "string", "format": "date-time"}, "points_stored": {"type": "integer"}
              }}}
            }
          }
        }
      }
    }
  }
}"##;

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_json_and_lists_the_routes() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        let paths = v["paths"].as_object().unwrap();
        for p in [
            "/v1/events",
            "/v1/webhooks/github",
            "/v1/decide",
            "/v1/data/{path}",
            "/v1/scorecard",
            "/v1/metrics/{name}",
            "/v1/explain/{metric}",
            "/v1/pipelines",
            "/v1/decisions",
            "/v1/decisions/{id}",
            "/v1/plans",
            "/v1/outcomes",
            "/v1/actions",
            "/v1/security/priorities",
            "/v1/notifications",
            "/metrics",
            "/healthz",
            "/readyz",
        ] {
            assert!(paths.contains_key(p), "{p}");
        }
    }

    /// `?format=` lists what `POST /v1/events` takes: every format and alias
    /// `Format::from_name` knows but GitHub's (they go to the webhook route).
    #[test]
    fn the_format_enum_is_what_the_server_takes() {
        use bearing_events::Format;
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        let mut listed: Vec<&str> =
            v["paths"]["/v1/events"]["post"]["parameters"][0]["schema"]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap())
                .collect();
        let mut taken: Vec<&str> = Format::ALL
            .map(|f| (f.name(), f))
            .into_iter()
            .chain(Format::ALIASES)
            .filter(|(_, f)| *f != Format::GithubWebhook)
            .map(|(n, _)| n)
            .collect();
        listed.sort_unstable();
        taken.sort_unstable();
        assert_eq!(listed, taken);
    }
}
