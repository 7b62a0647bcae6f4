//! The RTSP server: one shared media per mount whose `appsrc` is fed by the
//! [`Relay`]; every client sees the same enhanced stream.

use anyhow::{Context, Result, bail};
use gst::prelude::*;
use gst_rtsp_server::prelude::*;

use crate::relay::Relay;

const LAUNCH: &str = "( appsrc name=enhanced is-live=true format=time do-timestamp=true \
                     ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 )";

/// Splits `HOST:PORT` (IPv6 as `[::1]:8554`).
pub fn split_address(address: &str) -> Result<(String, u16)> {
    let (host, port) = address.rsplit_once(':').with_context(|| format!("address `{address}` is not HOST:PORT"))?;
    let port: u16 = port.parse().with_context(|| format!("port `{port}` of `{address}` is not a number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("address `{address}` has no host");
    }
    Ok((host.to_string(), port))
}

/// Creates the server listening on `address` with the stream at `mount`;
/// `on_media` runs whenever a new media is configured (a first client).
pub fn build(
    address: &str,
    mount: &str,
    relay: Relay,
    on_media: impl Fn() + Send + Sync + 'static,
) -> Result<gst_rtsp_server::RTSPServer> {
    let (host, port) = split_address(address)?;
    if !mount.starts_with('/') {
        bail!("mount point `{mount}` must start with /");
    }
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address(&host);
    server.set_service(&port.to_string());
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(LAUNCH);
    factory.set_shared(true);
    factory.connect_media_configure(move |_, media| {
        let Some(src) = media
            .element()
            .downcast::<gst::Bin>()
            .ok()
            .and_then(|bin| bin.by_name("enhanced"))
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        else {
            eprintln!("lowlight-rtsp: internal error: the media has no appsrc");
            return;
        };
        let relay_for_unprepare = relay.clone();
        let src_for_unprepare = src.clone();
        media.connect_unprepared(move |_| relay_for_unprepare.detach(&src_for_unprepare));
        relay.attach(src);
        on_media();
    });
    server.mount_points().context("the RTSP server has no mount points")?.add_factory(mount, factory);
    Ok(server)
}
