//! Shape rules checked on the parsed input, each reported at the offending token.

use std::collections::HashMap;

use syn::ext::IdentExt;
use syn::{Fields, Type};

use crate::ast::{Input, Kind, Repr, Variant};
use crate::ctxt::Ctxt;

/// Runs every check, recording errors in `cx`.
pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    check_generics(cx, input);
    if input.variants.is_empty() {
        cx.error_spanned_by(
            input.ident,
            "`#[derive(Message)]` needs at least one variant: one per message of the protocol",
        );
    }
    for variant in &input.variants {
        check_flags(cx, variant);
        match variant.kind() {
            Kind::Envelope => check_envelope(cx, input, variant),
            Kind::Binary | Kind::Text => check_raw(cx, variant),
            Kind::Other => check_other(cx, variant),
        }
    }
    check_unique_kinds(cx, input);
    check_keys(cx, input);
    check_unique_tags(cx, input);
}

fn check_generics(cx: &Ctxt, input: &Input<'_>) {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        cx.error_spanned_by(
            input.generics,
            "`#[derive(Message)]` does not support generic enums: a message protocol is one concrete type",
        );
    }
}

/// At most one of `binary`, `text`, `other` on a variant.
fn check_flags(cx: &Ctxt, variant: &Variant<'_>) {
    let flags = [
        ("binary", variant.binary),
        ("text", variant.text),
        ("other", variant.other),
    ];
    let mut set = flags
        .iter()
        .filter_map(|(name, span)| span.map(|span| (name, span)));
    if let Some((first, _)) = set.next() {
        for (name, span) in set {
            cx.error_at(
                span,
                format!("`{name}` cannot be combined with `{first}`: a variant is either an envelope message, the binary variant, the text variant or the other variant"),
            );
        }
    }
}

fn check_envelope(cx: &Ctxt, input: &Input<'_>, variant: &Variant<'_>) {
    let Repr::Internal { tag } = &input.repr else {
        return;
    };
    let attr = format!("#[message(tag = \"{}\")]", tag.value);
    match variant.fields {
        Fields::Unit => {}
        Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
            let ty = &fields.unnamed[0].ty;
            if let Some(what) = non_map_payload(ty) {
                cx.error_spanned_by(
                    ty,
                    format!(
                        "internal tagging (`{attr}`) puts the tag inside the payload, so the payload must be a struct or a map, but this is {what}; \
                         wrap it in a struct, or use adjacent tagging (`#[message(tag = \"{}\", content = \"data\")]`)",
                        tag.value
                    ),
                );
            }
        }
        Fields::Unnamed(fields) => cx.error_spanned_by(
            fields,
            format!(
                "internal tagging (`{attr}`) cannot carry a tuple variant; name the fields (`{} {{ a: A, b: B }}`) or use adjacent tagging (`#[message(tag = \"{}\", content = \"data\")]`)",
                variant.ident, tag.value
            ),
        ),
        Fields::Named(fields) => {
            for field in &fields.named {
                let Some(ident) = &field.ident else { continue };
                if ident.unraw() == tag.value {
                    cx.error_spanned_by(
                        ident,
                        format!(
                            "field `{ident}` clashes with the tag key `{}` of `{attr}`; rename the field or choose another tag key",
                            tag.value
                        ),
                    );
                }
            }
        }
    }
}

/// What a syntactically obvious non-map payload is, for the internal tagging error.
fn non_map_payload(ty: &Type) -> Option<&'static str> {
    match ty {
        Type::Tuple(tuple) if tuple.elems.is_empty() => None,
        Type::Tuple(_) => Some("a tuple"),
        Type::Array(_) | Type::Slice(_) => Some("an array"),
        Type::Paren(inner) => non_map_payload(&inner.elem),
        Type::Group(inner) => non_map_payload(&inner.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?.ident.to_string();
            Some(match last.as_str() {
                "bool" => "a bool",
                "char" | "str" | "String" => "a string",
                "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64"
                | "u128" | "usize" | "f32" | "f64" => "a number",
                "Vec" | "VecDeque" | "LinkedList" | "HashSet" | "BTreeSet" | "BinaryHeap" => {
                    "a sequence"
                }
                "Bytes" | "ByteBuf" => "bytes",
                "Option" => "an `Option` (which may be null)",
                _ => return None,
            })
        }
        _ => None,
    }
}

fn check_raw(cx: &Ctxt, variant: &Variant<'_>) {
    if variant.newtype().is_some() {
        return;
    }
    let (attr, example) = if variant.binary.is_some() {
        ("binary", "Upload(Bytes)` or `Upload(Vec<u8>)")
    } else {
        ("text", "Raw(String)` or `Raw(Utf8Bytes)")
    };
    cx.error_spanned_by(
        variant.ident,
        format!(
            "`#[message({attr})]` needs a newtype variant holding the raw payload, like `{example}`"
        ),
    );
}

fn check_other(cx: &Ctxt, variant: &Variant<'_>) {
    let ok = match variant.fields {
        Fields::Unnamed(fields) => fields.unnamed.len() == 1,
        Fields::Named(fields) => {
            let mut names: Vec<String> = fields
                .named
                .iter()
                .filter_map(|field| field.ident.as_ref().map(|ident| ident.unraw().to_string()))
                .collect();
            names.sort();
            names == ["frame", "tag"]
        }
        Fields::Unit => false,
    };
    if !ok {
        cx.error_spanned_by(
            variant.ident,
            format!(
                "`#[message(other)]` needs the shape `{0}(Frame)` or `{0} {{ tag: String, frame: Frame }}`",
                variant.ident
            ),
        );
    }
}

/// At most one binary, one text and one other variant.
fn check_unique_kinds(cx: &Ctxt, input: &Input<'_>) {
    for (kind, name) in [
        (Kind::Binary, "binary"),
        (Kind::Text, "text"),
        (Kind::Other, "other"),
    ] {
        // A variant with conflicting flags is already reported: leave it out.
        let mut of_kind = input
            .variants
            .iter()
            .filter(|variant| variant.kind() == kind && variant.flag_count() == 1);
        let Some(first) = of_kind.next() else {
            continue;
        };
        for variant in of_kind {
            let span = match kind {
                Kind::Binary => variant.binary,
                Kind::Text => variant.text,
                _ => variant.other,
            };
            cx.error_at(
                span.unwrap_or_else(|| variant.ident.span()),
                format!(
                    "only one variant can be `#[message({name})]`, and `{}` already is",
                    first.ident
                ),
            );
        }
    }
}

fn check_keys(cx: &Ctxt, input: &Input<'_>) {
    if let Repr::Adjacent { tag, content } = &input.repr
        && tag.value == content.value
    {
        cx.error_at(
            content.span,
            format!(
                "the tag and content keys are both `{}`; they must differ",
                tag.value
            ),
        );
    }
}

/// Every variant's tag (envelope, raw and other alike, since `tag()` returns them) is unique.
fn check_unique_tags(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: HashMap<&str, &Variant<'_>> = HashMap::new();
    for variant in &input.variants {
        let Some(first) = seen.get(variant.tag.as_str()) else {
            seen.insert(&variant.tag, variant);
            continue;
        };
        let message = match &input.rename_all {
            Some((rule, _)) if first.rename.is_none() && variant.rename.is_none() => format!(
                "variants `{}` and `{}` both get the message tag `{}` from rename_all = \"{}\"; give one of them `#[message(rename = \"...\")]`",
                first.ident,
                variant.ident,
                variant.tag,
                rule.name()
            ),
            _ => format!(
                "duplicate message tag `{}`: variant `{}` already uses it",
                variant.tag, first.ident
            ),
        };
        cx.error_at(variant.tag_span(), message);
    }
}
