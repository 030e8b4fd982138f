//! Which destinations hear of a change: the team's `contact` when it names a
//! destination (the default route), and every route whose filters match.

use bearing_intent::{Destination, Intent};

use crate::Change;
use crate::detect::team_of;

/// The destinations of `change`, each once, in the intent's order.
pub fn route<'a>(intent: &'a Intent, change: &Change) -> Vec<&'a Destination> {
    let Some(n) = &intent.notifications else {
        return Vec::new();
    };
    let team = change
        .team
        .clone()
        .or_else(|| change.service.as_deref().and_then(|s| team_of(intent, s)));
    let contact = team
        .as_deref()
        .and_then(|t| intent.teams.iter().find(|x| x.id == t))
        .and_then(|t| t.contact.as_deref());
    n.destinations
        .iter()
        .filter(|d| {
            contact == Some(d.id.as_str())
                || n.routes.iter().any(|r| {
                    r.to == d.id
                        && (r.events.is_empty() || r.events.contains(&change.kind))
                        && (r.teams.is_empty()
                            || team.as_ref().is_some_and(|t| r.teams.contains(t)))
                        && (r.services.is_empty()
                            || change
                                .service
                                .as_ref()
                                .is_some_and(|s| r.services.contains(s)))
                })
        })
        .collect()
}
