//! Where a change goes: checking a service and environment named by a caller
//! (`bearing check`, `POST /v1/decide`) against the intent, so a typo is a
//! usage error with a suggestion, never a change no service-scoped guardrail
//! applies to.

use crate::model::Intent;
use crate::suggest::{one_of, suggest};

/// A service or environment the intent does not declare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("unknown service `{service}`{} (expected {known})", did_you_mean(.suggestion))]
    UnknownService {
        service: String,
        suggestion: Option<String>,
        /// "one of `a`, `b` or `c`".
        known: String,
    },
    #[error("unknown environment `{environment}` for service `{service}`{} (expected {known})", did_you_mean(.suggestion))]
    UnknownEnvironment {
        service: String,
        environment: String,
        suggestion: Option<String>,
        known: String,
    },
}

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

impl TargetError {
    /// The closest declared name, if the input looks like a typo of it.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            TargetError::UnknownService { suggestion, .. }
            | TargetError::UnknownEnvironment { suggestion, .. } => suggestion.as_deref(),
        }
    }
}

impl Intent {
    /// Ok when `service` is one of the intent's services and `environment`
    /// one of its environments (any environment when the service lists none).
    pub fn check_target(&self, service: &str, environment: &str) -> Result<(), TargetError> {
        let Some(svc) = self.service(service) else {
            let names = self.services.iter().map(|s| s.id.as_str());
            return Err(TargetError::UnknownService {
                service: service.to_string(),
                suggestion: suggest(service, names.clone()).map(String::from),
                known: one_of(names),
            });
        };
        if svc.environments.is_empty() || svc.environments.iter().any(|e| e == environment) {
            return Ok(());
        }
        let names = svc.environments.iter().map(String::as_str);
        // `prod` for `production`: a prefix is as likely a slip as a typo.
        let suggestion = suggest(environment, names.clone()).or_else(|| {
            svc.environments
                .iter()
                .map(String::as_str)
                .find(|e| !environment.is_empty() && e.starts_with(environment))
        });
        Err(TargetError::UnknownEnvironment {
            service: service.to_string(),
            environment: environment.to_string(),
            suggestion: suggestion.map(String::from),
            known: one_of(names),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent() -> Intent {
        crate::load_str(
            std::path::Path::new("bearing.yaml"),
            "version: 1\nteams: [{id: t}]\nservices:\n  - {id: checkout, team: t, environments: [staging, production]}\n  - {id: search, team: t}\n",
        )
        .unwrap()
        .intent
    }

    #[test]
    fn unknown_services_and_environments_are_refused_with_a_suggestion() {
        let i = intent();
        assert_eq!(i.check_target("checkout", "production"), Ok(()));
        assert_eq!(i.check_target("search", "anything"), Ok(()));
        let e = i.check_target("chekout", "production").unwrap_err();
        assert_eq!(e.suggestion(), Some("checkout"));
        assert_eq!(
            e.to_string(),
            "unknown service `chekout`; did you mean `checkout`? (expected one of `checkout` or `search`)"
        );
        let e = i.check_target("nope", "production").unwrap_err();
        assert_eq!(e.suggestion(), None);
        let e = i.check_target("checkout", "prod").unwrap_err();
        assert_eq!(e.suggestion(), Some("production"));
        assert!(e.to_string().contains("`staging` or `production`"), "{e}");
        assert!(i.check_target("checkout", "").is_err());
    }
}
