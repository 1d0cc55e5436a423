//! `sextant users …`: administrators manage accounts and API keys from the command line.

use anyhow::Context;
use clap::{Args, Subcommand};
use engine::config::Settings;
use engine::storage::Database;
use web::server::accounts::{Accounts, generate_password};
use web::types::Role;

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Add a user; prints a generated password unless --password-stdin is given.
    Add(AddArgs),
    /// List users with their roles and whether they are disabled.
    List,
    /// Give a user another role (viewer, researcher or admin); it applies to their next request.
    SetRole { name: String, role: String },
    /// Disable a user: their sessions end and their keys stop working.
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
    /// Create an API key for a user and print it (shown only this once).
    CreateKey(KeyArgs),
    /// List API keys (their ids, first characters, labels and last use; never the secrets).
    Keys {
        /// Only this user's keys.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke one API key by its id (from `users keys`): it stops working at once.
    RevokeKey { id: i64 },
    /// Sign new JWTs with a new secret. Tokens signed before keep working until they expire (an
    /// hour at most) and stop at the next rotation; running servers follow within 30 seconds.
    RotateJwtSecret,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    pub name: String,
    /// viewer, researcher or admin.
    #[arg(long, default_value = "researcher")]
    pub role: String,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct KeyArgs {
    #[arg(long)]
    pub user: String,
    /// What the key is for, shown in listings.
    #[arg(long, default_value = "")]
    pub label: String,
}

pub async fn run(cmd: UsersCommand, settings: &Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    let db = Database::connect(&settings.effective_database_url()).await?;
    let accounts = Accounts::open(db).await?;
    match cmd {
        UsersCommand::Add(args) => {
            let role = Role::parse(&args.role)
                .with_context(|| format!("--role {}: use viewer, researcher or admin", args.role))?;
            let (password, generated) = if args.password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (generate_password(), true)
            };
            accounts.add_user(&args.name, &password, role).await?;
            outln!("added user `{}` ({})", args.name, role.as_str());
            if generated {
                outln!("password: {password}");
            }
        }
        UsersCommand::List => {
            outln!("{:<24} {:<11} {:<9} created", "name", "role", "state");
            for u in accounts.list_users().await? {
                let created = chrono::DateTime::from_timestamp_millis(u.created_at_ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default();
                outln!(
                    "{:<24} {:<11} {:<9} {}",
                    u.name,
                    u.role.as_str(),
                    if u.disabled { "disabled" } else { "active" },
                    created
                );
            }
        }
        UsersCommand::SetRole { name, role } => {
            let new_role =
                Role::parse(&role).with_context(|| format!("role `{role}`: use viewer, researcher or admin"))?;
            accounts.set_role(&name, new_role).await?;
            outln!("`{name}` is now {}", new_role.as_str());
        }
        UsersCommand::Disable { name } => {
            accounts.set_disabled(&name, true).await?;
            outln!("disabled `{name}`");
        }
        UsersCommand::Enable { name } => {
            accounts.set_disabled(&name, false).await?;
            outln!("enabled `{name}`");
        }
        UsersCommand::Keys { user } => {
            let when = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            };
            outln!("{:>5} {:<24} {:<11} {:<16} {:<16} label", "id", "user", "key", "created", "last used");
            for k in accounts.list_api_keys(user.as_deref()).await? {
                let used = k.last_used_ms.map(when).unwrap_or_else(|| "never".into());
                outln!(
                    "{:>5} {:<24} {:<11} {:<16} {:<16} {}",
                    k.id,
                    k.user,
                    k.prefix,
                    when(k.created_ms),
                    used,
                    k.label
                );
            }
        }
        UsersCommand::RotateJwtSecret => {
            accounts.rotate_jwt_secret().await?;
            outln!("new JWT signing secret in place; tokens signed with the previous one stay valid until they expire");
        }
        UsersCommand::RevokeKey { id } => {
            let key = accounts.revoke_api_key(id, None).await?;
            outln!("revoked key #{id} ({}…) of `{}`", key.prefix, key.user);
        }
        UsersCommand::CreateKey(args) => {
            let key = accounts.create_api_key(&args.user, &args.label).await?;
            outln!("{key}");
            eprintln!(
                "API key for `{}`: shown only now. Use it as MLFLOW_TRACKING_TOKEN or `Authorization: Bearer`.",
                args.user
            );
        }
    }
    Ok(())
}
