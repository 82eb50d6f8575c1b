//! `configurable-agents token …`: tokens written straight into the database (the only
//! commands besides `migrate` that open it). `create` and `init-admin` print the token
//! alone on standard output, so `TOKEN=$(configurable-agents token create …)` works;
//! everything else goes to standard error.

use super::tokens::{self, Binding, Scope};
use crate::cli::{TokenCommand, TokenSettings};
use crate::error::ServiceError;
use crate::StartError;

/// The name `init-admin` gives the admin token.
pub const ADMIN_NAME: &str = "admin";

pub async fn run(settings: TokenSettings) -> Result<(), StartError> {
    let db = crate::db::connect(&settings.database_url).await?;
    match settings.command {
        TokenCommand::InitAdmin => {
            let token = tokens::create(&db, ADMIN_NAME, Scope::Admin, &Binding::Any).await.map_err(|e| match e {
                ServiceError::Conflict(_) => format!(
                    "an admin token named {ADMIN_NAME:?} exists already (revoke it first: configurable-agents token \
                     revoke {ADMIN_NAME}; or add another: token create --scope admin --name NAME)"
                )
                .into(),
                other => StartError::from(other.to_string()),
            })?;
            println!("{token}");
            eprintln!(
                "Created the admin token {ADMIN_NAME:?}; it is shown only now. From its next start the dashboard \
                 requires a token on every address: sign in with it, or send Authorization: Bearer TOKEN."
            );
        }
        TokenCommand::Create { name, scope, agent_id, agent_prefix } => {
            let binding = match (agent_id, agent_prefix) {
                (Some(id), _) => Binding::Id(app::validation::AgentId::parse(&id)?.as_str().to_owned()),
                (None, Some(prefix)) if !prefix.is_empty() => Binding::Prefix(prefix),
                _ => Binding::Any,
            };
            let token = tokens::create(&db, &name, scope, &binding).await.map_err(describe)?;
            println!("{token}");
            let may = match scope {
                Scope::Agent => format!("register, heartbeat and deregister {binding}"),
                Scope::Metrics => "read /metrics".to_owned(),
                Scope::Admin => "do everything".to_owned(),
            };
            eprintln!("Created the {} token {name:?}; it may {may}. It is shown only now.", scope.as_str());
        }
        TokenCommand::List => {
            let list = tokens::list(&db).await?;
            if list.is_empty() {
                eprintln!("No tokens: access control is off unless ui is given an admin token.");
                return Ok(());
            }
            let owned = tokens::owned_counts(&db).await?;
            let rows: Vec<[String; 5]> = list
                .iter()
                .map(|t| {
                    let agents = owned.iter().find(|(name, _)| *name == t.name).map_or(0, |(_, n)| *n);
                    [
                        t.name.clone(),
                        t.scope.as_str().to_owned(),
                        if t.scope == Scope::Agent { t.binding.to_string() } else { "-".into() },
                        agents.to_string(),
                        t.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    ]
                })
                .collect();
            print!("{}", table(["NAME", "SCOPE", "MAY REGISTER", "AGENTS", "CREATED"], &rows));
        }
        TokenCommand::Revoke { name } => {
            if !tokens::revoke(&db, &name).await? {
                return Err(format!("no token named {name:?} (configurable-agents token list shows them)").into());
            }
            eprintln!(
                "Revoked {name:?}: it and its sign-ins stop working within 2 s. Its agents keep it as their owner's \
                 name, so a token created again under this name takes them over."
            );
        }
    }
    Ok(())
}

fn describe(error: ServiceError) -> StartError {
    match error {
        ServiceError::Invalid(fields) => fields.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; ").into(),
        other => other.to_string().into(),
    }
}

/// Columns padded to their widest cell.
fn table<const N: usize>(head: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = head.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(head.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_line_up() {
        let rows = [["ci".to_owned(), "agent".to_owned()], ["prometheus".to_owned(), "metrics".to_owned()]];
        assert_eq!(
            super::table(["NAME", "SCOPE"], &rows),
            "NAME        SCOPE\nci          agent\nprometheus  metrics\n"
        );
    }
}
