//! Live pages: a subscription to the server's `/ws` change events, so a page refetches what it
//! shows when a run is written, a backtest moves on or an alias moves, instead of polling.

/// One change event from `/ws`, as the server publishes it (`kind` plus the fields of that kind).
pub type ChangeEvent = serde_json::Value;

/// Calls `changed` for every event that `wanted` accepts, and also when the subscription opens
/// or the server reports that it dropped events, since whatever happened between rendering and
/// (re)connecting would otherwise be missed. Closes the socket when the calling component goes
/// away. A burst of events (a training loop logging every step) costs one refetch per
/// quarter second, not one per event. On the server it does nothing: only the hydrated page
/// listens.
pub fn on_change_events(wanted: impl Fn(&ChangeEvent) -> bool + 'static, changed: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    browser::subscribe(wanted, changed);
    #[cfg(not(feature = "hydrate"))]
    let _ = (wanted, changed);
}

/// The field `key` of an event as text ("" when absent).
pub fn field<'a>(event: &'a ChangeEvent, key: &str) -> &'a str {
    event.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::ChangeEvent;
    use leptos::prelude::{on_cleanup, set_timeout};
    use send_wrapper::SendWrapper;
    use wasm_bindgen::prelude::*;

    /// How long wanted events are gathered before the one refetch they cause.
    const COALESCE_MS: u64 = 250;

    // The socket lives in JavaScript so that it can reconnect on its own (with backoff) when the
    // server restarts; Rust only hears the text of each message.
    #[wasm_bindgen(inline_js = r#"
export function sextantSubscribe(onMessage) {
  const sub = { closed: false, socket: null, delay: 500 };
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + "/ws");
    socket.onopen = () => { sub.delay = 500; };
    socket.onmessage = (e) => { if (!sub.closed && typeof e.data === "string") onMessage(e.data); };
    socket.onclose = () => {
      if (sub.closed) return;
      setTimeout(open, sub.delay);
      sub.delay = Math.min(sub.delay * 2, 30000);
    };
    sub.socket = socket;
  };
  open();
  sub.close = () => { sub.closed = true; if (sub.socket) sub.socket.close(); };
  return sub;
}
"#)]
    extern "C" {
        type Subscription;
        #[wasm_bindgen(js_name = sextantSubscribe)]
        fn subscribe_js(on_message: &Closure<dyn FnMut(String)>) -> Subscription;
        #[wasm_bindgen(method)]
        fn close(this: &Subscription);
    }

    pub fn subscribe(wanted: impl Fn(&ChangeEvent) -> bool + 'static, changed: impl Fn() + 'static) {
        let changed = Rc::new(changed);
        let pending = Rc::new(Cell::new(false));
        let on_message = Closure::<dyn FnMut(String)>::new(move |text: String| {
            let Ok(event) = serde_json::from_str::<ChangeEvent>(&text) else { return };
            let resync = matches!(super::field(&event, "kind"), "hello" | "lagged");
            if (resync || wanted(&event)) && !pending.replace(true) {
                let (changed, pending) = (changed.clone(), pending.clone());
                set_timeout(
                    move || {
                        pending.set(false);
                        changed();
                    },
                    Duration::from_millis(COALESCE_MS),
                );
            }
        });
        let subscription = subscribe_js(&on_message);
        // JavaScript values stay on the browser's one thread; the wrapper only satisfies the
        // reactive owner's Send bound.
        let held = SendWrapper::new((subscription, on_message));
        on_cleanup(move || {
            let (subscription, _on_message) = held.take();
            subscription.close();
        });
    }
}
