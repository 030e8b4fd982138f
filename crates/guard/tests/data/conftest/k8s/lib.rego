# Helpers in their own package, reached from `main` through an import alias
# (the shape of Conftest's kubernetes example).
package kubernetes

import rego.v1

is_deployment if input.kind == "Deployment"

is_service if input.kind == "Service"
