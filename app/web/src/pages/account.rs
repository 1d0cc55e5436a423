//! The account page: the caller's API keys (created and shown once, listed, revoked), and for
//! administrators every key and the users (add with a generated password, change role, disable).

use leptos::prelude::*;
use leptos_meta::Title;

use super::{failure, fmt_ms, loading};
use crate::api::{AddUser, CreateMyKey, RevokeKey, SetUserDisabled, SetUserRole, list_keys, list_users, whoami};
use crate::types::Role;

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let create_key = ServerAction::<CreateMyKey>::new();
    view! {
        <Title text="Account"/>
        <h1>"Account"</h1>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match me.await {
                    Err(e) => failure(e),
                    Ok(id) => view! {
                        <p>{format!("Signed in as {} ({}).", id.name, id.role.as_str())}</p>
                        <section class="card" aria-labelledby="keys">
                            <h2 id="keys">"API keys"</h2>
                            <p class="muted">"A key lets a program act as you: set it as MLFLOW_TRACKING_TOKEN or send it as "
                                <code>"Authorization: Bearer"</code>". It is shown once; only its hash is kept."</p>
                            <ActionForm action=create_key attr:id="key-form">
                                <label for="label">"What the key is for"</label>
                                <input id="label" name="label" placeholder="sweep workers" maxlength="100"/>
                                <button type="submit">"Create key"</button>
                            </ActionForm>
                            {move || create_key.value().get().map(|r| match r {
                                Ok(key) => view! { <p role="status">"Your new key (copy it now): " <code id="new-key">{key}</code></p> }.into_any(),
                                Err(e) => failure(e),
                            })}
                            <Keys created=create_key.version() admin=id.role.is_admin()/>
                        </section>
                        {id.role.is_admin().then(|| view! { <Users/> })}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The key listing, refreshed when a key is created or revoked.
#[component]
fn Keys(created: RwSignal<usize>, admin: bool) -> impl IntoView {
    let revoke = ServerAction::<RevokeKey>::new();
    let keys = Resource::new(move || (created.get(), revoke.version().get()), |_| list_keys());
    let used = |ms: Option<i64>| ms.map(fmt_ms).unwrap_or_else(|| "never".into());
    view! {
        {move || revoke.value().get().and_then(|r| r.err()).map(failure)}
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match keys.await {
                    Err(e) => failure(e),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted" id="no-keys">"No API keys yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table id="keys-table">
                            <caption>{if admin { "Every user's API keys" } else { "Your API keys" }}</caption>
                            <thead><tr><th scope="col">"Key"</th><th scope="col">"User"</th><th scope="col">"Label"</th>
                                <th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Action"</th></tr></thead>
                            <tbody>{rows.into_iter().map(|k| view! { <tr>
                                <td><code>{format!("{}…", k.prefix)}</code></td><td>{k.user.clone()}</td><td>{k.label.clone()}</td>
                                <td>{fmt_ms(k.created_ms)}</td><td>{used(k.last_used_ms)}</td>
                                <td><ActionForm action=revoke>
                                    <input type="hidden" name="id" value=k.id.to_string()/>
                                    <button type="submit" aria-label=format!("Revoke key {}… ({})", k.prefix, k.label)>"Revoke"</button>
                                </ActionForm></td>
                            </tr> }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Users() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let toggle = ServerAction::<SetUserDisabled>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    provide_context(set_role);
    let users = Resource::new(
        move || (add.version().get(), toggle.version().get(), set_role.version().get()),
        |_| list_users(),
    );
    view! {
        <section class="card" aria-labelledby="users">
            <h2 id="users">"Users"</h2>
            <ActionForm action=add attr:id="add-user-form" attr:class="inline">
                <div><label for="new-name">"User name"</label><input id="new-name" name="name" required maxlength="64"/></div>
                <div><label for="new-role">"Role"</label>
                    <select id="new-role" name="role">
                        <option value="viewer">"viewer"</option>
                        <option value="researcher" selected>"researcher"</option>
                        <option value="admin">"admin"</option>
                    </select></div>
                <button type="submit">"Add user"</button>
            </ActionForm>
            {move || add.value().get().map(|r| match r {
                Ok(password) => view! { <p role="status">"User added. One-time password (pass it on safely): " <code id="new-password">{password}</code></p> }.into_any(),
                Err(e) => failure(e),
            })}
            {move || toggle.value().get().and_then(|r| r.err()).map(failure)}
            {move || set_role.value().get().and_then(|r| r.err()).map(failure)}
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => failure(e),
                        Ok(rows) => view! {
                            <table id="users-table">
                                <thead><tr><th scope="col">"Name"</th><th scope="col">"Role"</th><th scope="col">"State"</th><th scope="col">"Created"</th><th scope="col">"Action"</th></tr></thead>
                                <tbody>{rows.into_iter().map(|u| {
                                    let label = if u.disabled { "Enable" } else { "Disable" };
                                    view! { <tr>
                                        <td>{u.name.clone()}</td>
                                        <td>{role_form(u.name.clone(), u.role)}</td>
                                        <td>{if u.disabled { "disabled" } else { "active" }}</td><td>{fmt_ms(u.created_ms)}</td>
                                        <td><ActionForm action=toggle>
                                            <input type="hidden" name="name" value=u.name.clone()/>
                                            <input type="hidden" name="disabled" value=(!u.disabled).to_string()/>
                                            <button type="submit" aria-label=format!("{label} {}", u.name)>{label}</button>
                                        </ActionForm></td>
                                    </tr> }
                                }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// One user's role as a select with its own submit button (an administrator changes it here).
fn role_form(name: String, current: Role) -> impl IntoView {
    let set_role = expect_context::<ServerAction<SetUserRole>>();
    let select_label = format!("Role of {name}");
    let button_label = format!("Change the role of {name}");
    view! {
        <ActionForm action=set_role attr:class="inline">
            <input type="hidden" name="name" value=name/>
            <select name="role" aria-label=select_label>
                {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == current>{r.as_str()}</option> }).collect_view()}
            </select>
            <button type="submit" aria-label=button_label>"Change"</button>
        </ActionForm>
    }
}
