//! The `Sec-WebSocket-Extensions` offer and answer (RFC 7692 section 7.1).

use super::{Compression, NegotiatedCompression, Params};
use crate::error::{Error, ErrorKind};

const NAME: &str = "permessage-deflate";

/// One extension of a `Sec-WebSocket-Extensions` list: its name and `(parameter, value)`s.
struct Element<'a> {
    name: &'a str,
    params: Vec<(&'a str, Option<&'a str>)>,
}

/// Splits header values into extension elements (`name; p1; p2=v, name2`).
fn elements<'a>(values: &[&'a str]) -> Vec<Element<'a>> {
    values
        .iter()
        .flat_map(|value| value.split(','))
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            let mut parts = element.split(';');
            let name = parts.next().unwrap_or("").trim();
            let params = parts
                .map(|param| match param.split_once('=') {
                    Some((key, value)) => {
                        let value = value.trim();
                        let value = value
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or(value);
                        (key.trim(), Some(value))
                    }
                    None => (param.trim(), None),
                })
                .collect();
            Element { name, params }
        })
        .collect()
}

/// Reads the parameters of one permessage-deflate element, refusing unknown, repeated and
/// malformed ones. `offer`: a value-less `client_max_window_bits` is allowed (as `Some(0)`).
fn parse_params(element: &Element<'_>, offer: bool) -> Result<Params, String> {
    let mut params = Params::default();
    let mut seen: Vec<&str> = Vec::new();
    for &(key, value) in &element.params {
        if seen.contains(&key) {
            return Err(format!("parameter `{key}` appears twice"));
        }
        seen.push(key);
        match key {
            "server_no_context_takeover" | "client_no_context_takeover" => {
                if let Some(value) = value {
                    return Err(format!("parameter `{key}` takes no value, got {value:?}"));
                }
                if key == "server_no_context_takeover" {
                    params.server_no_context_takeover = true;
                } else {
                    params.client_no_context_takeover = true;
                }
            }
            "server_max_window_bits" | "client_max_window_bits" => {
                let bits = match value {
                    None if offer && key == "client_max_window_bits" => 0,
                    None => return Err(format!("parameter `{key}` needs a value (8-15)")),
                    Some(v) => match v.parse::<u8>() {
                        Ok(bits @ 8..=15) if !v.starts_with('0') && !v.starts_with('+') => bits,
                        _ => {
                            return Err(format!("parameter `{key}` must be 8-15, got {v:?}"));
                        }
                    },
                };
                if key == "server_max_window_bits" {
                    params.server_max_window_bits = Some(bits);
                } else {
                    params.client_max_window_bits = Some(bits);
                }
            }
            "" => return Err("empty parameter".into()),
            other => return Err(format!("unknown parameter `{other}`")),
        }
    }
    Ok(params)
}

/// Writes parameters in the RFC's order.
fn format(params: &Params) -> String {
    let mut header = NAME.to_owned();
    if params.server_no_context_takeover {
        header.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        header.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = params.server_max_window_bits {
        header.push_str(&format!("; server_max_window_bits={bits}"));
    }
    match params.client_max_window_bits {
        Some(0) => header.push_str("; client_max_window_bits"),
        Some(bits) => header.push_str(&format!("; client_max_window_bits={bits}")),
        None => {}
    }
    header
}

/// The client's offer: the header value, or `None` when compression is disabled.
pub(crate) fn client_offer(config: &Compression) -> Option<String> {
    config.enabled.then(|| format(&offer_params(config)))
}

fn offer_params(config: &Compression) -> Params {
    Params {
        server_no_context_takeover: config.server_no_context_takeover,
        client_no_context_takeover: config.client_no_context_takeover,
        server_max_window_bits: (config.server_max_window_bits < 15)
            .then_some(config.server_max_window_bits),
        // value-less: "the server may limit my window"; a value: "I use at most this"
        client_max_window_bits: Some(if config.client_max_window_bits < 15 {
            config.client_max_window_bits
        } else {
            0
        }),
    }
}

fn refuse(message: String) -> Error {
    Error::new(ErrorKind::Handshake, message)
}

/// Checks the server's `Sec-WebSocket-Extensions` answer against what `config` offered:
/// `Ok(None)` when the server answered nothing, the agreed parameters when it accepted, and a
/// handshake error naming the extension or parameter for anything not offered or invalid.
pub(crate) fn accept_client(
    values: &[&str],
    config: &Compression,
) -> Result<Option<NegotiatedCompression>, Error> {
    let elements = elements(values);
    let Some(first) = elements.first() else {
        return Ok(None);
    };
    if !config.enabled {
        return Err(refuse(format!(
            "server negotiated extension `{}`, which was not offered (compression is disabled)",
            first.name
        )));
    }
    if let Some(other) = elements.iter().find(|e| !e.name.eq_ignore_ascii_case(NAME)) {
        return Err(refuse(format!(
            "server negotiated extension `{}`, which was not offered (offered: {NAME})",
            other.name
        )));
    }
    if elements.len() > 1 {
        return Err(refuse(format!("server answered {NAME} more than once")));
    }
    let bad = |what: String| refuse(format!("server's {NAME} answer is invalid: {what}"));
    let mut params = parse_params(first, false).map_err(bad)?;
    let answered = params;
    let offered = offer_params(config);
    if offered.server_no_context_takeover && !params.server_no_context_takeover {
        return Err(bad(
            "parameter `server_no_context_takeover` was requested and is missing".into(),
        ));
    }
    match (
        offered.server_max_window_bits,
        params.server_max_window_bits,
    ) {
        (Some(_), None) => {
            return Err(bad(
                "parameter `server_max_window_bits` was requested and is missing".into(),
            ));
        }
        (Some(asked), Some(got)) if got > asked => {
            return Err(bad(format!(
                "parameter `server_max_window_bits={got}` is over the {asked} requested"
            )));
        }
        _ => {}
    }
    if let Some(got) = params.client_max_window_bits {
        if let Some(limit @ 9..=14) = offered.client_max_window_bits
            && got > limit
        {
            return Err(bad(format!(
                "parameter `client_max_window_bits={got}` is over the {limit} offered"
            )));
        }
        if got == 8 {
            return Err(bad(
                "parameter `client_max_window_bits=8` is not supported (zlib compresses with 9-15)"
                    .into(),
            ));
        }
    } else if let Some(limit @ 9..=14) = offered.client_max_window_bits {
        // we promised to stay within our own offer
        params.client_max_window_bits = Some(limit);
    }
    Ok(Some(NegotiatedCompression {
        params,
        header: format(&answered),
    }))
}

/// The server's choice among the client's offers (`Sec-WebSocket-Extensions` request header
/// values), in order: the parameters and the response header value of the first offer it can
/// accept, `Ok(None)` when compression is disabled or no offer is acceptable (an offer asking
/// for an 8-bit server window is declined), and an error naming the parameter when a
/// permessage-deflate offer is malformed or has an unknown parameter (answer 400).
pub(crate) fn negotiate_server(
    values: &[&str],
    config: &Compression,
) -> Result<Option<(NegotiatedCompression, String)>, Error> {
    if !config.enabled {
        return Ok(None);
    }
    for element in elements(values) {
        if !element.name.eq_ignore_ascii_case(NAME) {
            continue;
        }
        let offer = parse_params(&element, true)
            .map_err(|what| refuse(format!("invalid {NAME} offer: {what}")))?;
        let ours = config.server_max_window_bits;
        let server_max_window_bits = match offer.server_max_window_bits {
            Some(8) => continue,
            Some(asked) => Some(asked.min(ours)),
            None => None,
        };
        let client_max_window_bits = match offer.client_max_window_bits {
            None => None,
            Some(0) => {
                (config.client_max_window_bits < 15).then_some(config.client_max_window_bits)
            }
            Some(limit) => Some(limit.min(config.client_max_window_bits)),
        };
        let params = Params {
            server_no_context_takeover: offer.server_no_context_takeover
                || config.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        };
        let header = format(&params);
        // our own window may be smaller than announced: that needs no negotiation
        let mut effective = params;
        effective.server_max_window_bits = Some(server_max_window_bits.unwrap_or(15).min(ours));
        return Ok(Some((
            NegotiatedCompression {
                params: effective,
                header: header.clone(),
            },
            header,
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(values: &[&str], config: &Compression) -> Option<(Params, String)> {
        negotiate_server(values, config)
            .unwrap()
            .map(|(n, h)| (n.params, h))
    }

    #[test]
    fn default_offer_is_what_browsers_send() {
        assert_eq!(
            client_offer(&Compression::default()).unwrap(),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(client_offer(&Compression::disabled()), None);
        let all = Compression::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(10)
            .client_max_window_bits(9);
        assert_eq!(
            client_offer(&all).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
        );
    }

    #[test]
    fn bad_settings_are_remembered() {
        assert!(
            Compression::default()
                .client_max_window_bits(8)
                .error
                .is_some()
        );
        assert!(
            Compression::default()
                .server_max_window_bits(16)
                .error
                .is_some()
        );
        assert!(Compression::default().level(10).error.is_some());
        assert!(Compression::default().level(9).error.is_none());
    }

    #[test]
    fn server_accepts_the_first_acceptable_offer() {
        let config = Compression::default();
        let (params, header) = server(
            &[
                "x-webkit-deflate-frame",
                "permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits",
            ],
            &config,
        )
        .unwrap();
        assert_eq!(header, "permessage-deflate");
        assert_eq!(params.server_max_window_bits, Some(15));
        assert_eq!(params.client_max_window_bits, None);

        let (params, header) = server(
            &["permessage-deflate; server_max_window_bits=10; client_no_context_takeover"],
            &config,
        )
        .unwrap();
        assert_eq!(
            header,
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"
        );
        assert!(params.client_no_context_takeover);
        assert_eq!(params.server_max_window_bits, Some(10));
    }

    #[test]
    fn server_applies_its_own_limits() {
        let config = Compression::default()
            .client_max_window_bits(9)
            .server_max_window_bits(12)
            .server_no_context_takeover(true)
            .client_no_context_takeover(true);
        let (params, header) =
            server(&["permessage-deflate; client_max_window_bits"], &config).unwrap();
        assert_eq!(
            header,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9"
        );
        assert_eq!(params.server_max_window_bits, Some(12));
        // a client that cannot be limited keeps its window; we inflate with 15
        let (params, _) = server(&["permessage-deflate"], &config).unwrap();
        assert_eq!(params.client_max_window_bits, None);
    }

    #[test]
    fn server_refuses_bad_offers_naming_the_parameter() {
        let config = Compression::default();
        for (offer, named) in [
            ("permessage-deflate; foo", "`foo`"),
            (
                "permessage-deflate; server_max_window_bits=16",
                "server_max_window_bits",
            ),
            (
                "permessage-deflate; server_max_window_bits",
                "server_max_window_bits",
            ),
            (
                "permessage-deflate; client_max_window_bits=010",
                "client_max_window_bits",
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                "server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                "appears twice",
            ),
        ] {
            let err = negotiate_server(&[offer], &config).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Handshake);
            assert!(err.to_string().contains(named), "{offer}: {err}");
        }
        assert!(server(&["permessage-deflate"], &Compression::disabled()).is_none());
        assert!(server(&["x-other"], &config).is_none());
    }

    #[test]
    fn client_checks_the_answer() {
        let config = Compression::default();
        assert!(accept_client(&[], &config).unwrap().is_none());
        let n = accept_client(
            &["permessage-deflate; server_no_context_takeover; client_max_window_bits=9"],
            &config,
        )
        .unwrap()
        .unwrap();
        assert!(n.server_no_context_takeover());
        assert!(!n.client_no_context_takeover());
        assert_eq!(n.client_max_window_bits(), 9);
        assert_eq!(n.server_max_window_bits(), 15);
        assert_eq!(
            n.extension(),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9"
        );

        for (answer, named) in [
            ("x-webkit-deflate-frame", "x-webkit-deflate-frame"),
            ("permessage-deflate, permessage-deflate", "more than once"),
            ("permessage-deflate; bogus=1", "`bogus`"),
            (
                "permessage-deflate; client_max_window_bits",
                "client_max_window_bits",
            ),
            (
                "permessage-deflate; client_max_window_bits=8",
                "client_max_window_bits=8",
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                "server_max_window_bits",
            ),
        ] {
            let err = accept_client(&[answer], &config).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Handshake);
            assert!(err.to_string().contains(named), "{answer}: {err}");
        }
        let err = accept_client(&["permessage-deflate"], &Compression::disabled()).unwrap_err();
        assert!(err.to_string().contains("not offered"), "{err}");

        let strict = Compression::default()
            .server_max_window_bits(10)
            .server_no_context_takeover(true)
            .client_max_window_bits(11);
        for answer in [
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
        ] {
            assert!(accept_client(&[answer], &strict).is_err(), "{answer}");
        }
        let n = accept_client(
            &["permessage-deflate; server_no_context_takeover; server_max_window_bits=9"],
            &strict,
        )
        .unwrap()
        .unwrap();
        assert_eq!(n.server_max_window_bits(), 9);
        assert_eq!(n.client_max_window_bits(), 11);
    }
}
