//! The account page: the caller's own API keys (created here, shown once), and for
//! administrators the users: add one (with a generated password), disable or enable.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{failure, fmt_ms, loading};
use crate::api::{AddUser, CreateMyKey, SetUserDisabled, list_users, whoami};

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
                        </section>
                        {id.role.is_admin().then(|| view! { <Users/> })}
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
    let users = Resource::new(move || (add.version().get(), toggle.version().get()), |_| list_users());
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
                                        <td>{u.name.clone()}</td><td>{u.role.as_str()}</td>
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
