//! The admission step: ask the drawn pool's gate for a slot (placement names the pools that
//! may take the request at once when it is full), then let placement settle the pool that
//! admitted it against the route. Refusals are mapped to answers by [`super::refuse`].

use super::request::Routed;
use super::{refuse, Ctx};
use crate::admission::{acquire, Ask};
use crate::app::App;
use crate::config::ClientKey;
use crate::placement::Placement;
use crate::reload::Snapshot;
use crate::respond::Refusal;
use pingora::proxy::Session;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Admits the routed request or says why not.
pub async fn admit(
    app: &App,
    session: &Session,
    ctx: &mut Ctx,
    routed: Routed,
) -> Result<(), Refusal> {
    let Routed {
        snap,
        route,
        priority,
        pool: drawn,
    } = routed;
    let conf = &snap.config.admission;
    let bucket = match &conf.client_key {
        ClientKey::Header(h) => match session.req_header().headers.get(h.as_str()) {
            Some(v) => app.tenants.bucket(v.as_bytes()),
            None => app.tenants.bucket(client_ip(ctx)),
        },
        ClientKey::Addr => app.tenants.bucket(client_ip(ctx)),
    };
    let drill = app.standby.drill_share() > 0.0;
    let ask = Ask {
        priority,
        bucket,
        process_inflight: app.inflight(),
        now_ns: ctx.start_ns,
    };
    let placement = Placement::new(&snap).keyed(ctx.keyed);
    let drawn_gate = (drawn, &snap.pools[drawn].gate);
    let (pool, permit) = acquire(conf, &app.tenants, ask, drawn_gate, || {
        placement.spill(drawn, drill)
    })
    .await
    .map_err(|reason| refuse::refusal(app, &snap, reason))?;
    let settled = placement
        .settle(&snap.config.routes[route], drawn, pool, drill)
        .map_err(|reason| refuse::refusal(app, &snap, reason))?;
    if settled.drill_fallback {
        app.standby.drill_fallbacks.fetch_add(1, Relaxed);
    }
    ctx.first_pool = Some(pool);
    ctx.permit = Some(permit);
    if settled.on_primary {
        mirror(app, session, ctx, &snap);
    }
    Ok(())
}

/// Mirrors the request to the standby when its route asks for shadow traffic (GET/HEAD only).
fn mirror(app: &App, session: &Session, ctx: &Ctx, snap: &Arc<Snapshot>) {
    let req = session.req_header();
    if !matches!(req.method, http::Method::GET | http::Method::HEAD) {
        return;
    }
    let Some(route) = ctx.route_conf() else {
        return;
    };
    if route.shadow > 0.0 {
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let path = req.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        app.standby
            .maybe_shadow(snap, route.shadow, host, path, crate::clock::now_ns());
    }
}

fn client_ip(ctx: &Ctx) -> Option<std::net::IpAddr> {
    ctx.identity.as_ref().map(|id| id.client)
}
