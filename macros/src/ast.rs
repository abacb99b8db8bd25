//! The derive's input, parsed: the enum, its `#[message(...)]` attributes and its variants.
//!
//! Parsing records every attribute error in the [`Ctxt`] and carries on, so one compile shows
//! them all. Shape rules (what a binary variant may hold, duplicate tags, …) are in `check.rs`.

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Token, Type};

use crate::case::RenameRule;
use crate::ctxt::Ctxt;

/// The default tag key.
pub(crate) const DEFAULT_TAG: &str = "type";
/// The default content key (adjacent tagging).
pub(crate) const DEFAULT_CONTENT: &str = "data";

const ENUM_ATTRS: &[&str] = &["tag", "content", "rename_all", "crate"];
const VARIANT_ATTRS: &[&str] = &["rename", "binary", "text", "other"];

/// A parsed `#[derive(Message)]` enum.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) generics: &'a syn::Generics,
    /// The path generated code names: `::typed_ws::__private` unless `#[message(crate = "…")]`.
    pub(crate) krate: syn::Path,
    pub(crate) repr: Repr,
    pub(crate) rename_all: Option<(RenameRule, LitStr)>,
    pub(crate) variants: Vec<Variant<'a>>,
}

/// How envelope variants are laid out.
pub(crate) enum Repr {
    /// `{"<tag>": "say", "<content>": payload}`; unit variants have no content.
    Adjacent { tag: Key, content: Key },
    /// `{"<tag>": "say", ...payload fields}`.
    Internal { tag: Key },
}

impl Repr {
    pub(crate) fn tag(&self) -> &Key {
        match self {
            Repr::Adjacent { tag, .. } | Repr::Internal { tag } => tag,
        }
    }
}

/// A tag or content key, with the span of the literal that chose it (the call site by default).
pub(crate) struct Key {
    pub(crate) value: String,
    pub(crate) span: Span,
}

/// A parsed variant.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) fields: &'a Fields,
    /// The wire tag: the explicit rename, else the name after `rename_all`, else the name.
    pub(crate) tag: String,
    pub(crate) rename: Option<LitStr>,
    pub(crate) binary: Option<Span>,
    pub(crate) text: Option<Span>,
    pub(crate) other: Option<Span>,
}

/// What a variant is on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Serialized through the converter inside the tagged envelope.
    Envelope,
    /// `#[message(binary)]`: the raw payload of a Binary frame.
    Binary,
    /// `#[message(text)]`: the raw text of a Text frame.
    Text,
    /// `#[message(other)]`: catches unknown tags.
    Other,
}

impl Variant<'_> {
    /// The variant's kind (the first flag wins; `check` reports conflicting flags).
    pub(crate) fn kind(&self) -> Kind {
        if self.binary.is_some() {
            Kind::Binary
        } else if self.text.is_some() {
            Kind::Text
        } else if self.other.is_some() {
            Kind::Other
        } else {
            Kind::Envelope
        }
    }

    /// How many of `binary`, `text` and `other` the variant has.
    pub(crate) fn flag_count(&self) -> usize {
        [self.binary, self.text, self.other]
            .iter()
            .filter(|flag| flag.is_some())
            .count()
    }

    /// The type of a one-field tuple variant.
    pub(crate) fn newtype(&self) -> Option<&Type> {
        match self.fields {
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => Some(&fields.unnamed[0].ty),
            _ => None,
        }
    }

    /// The span to blame for this variant's tag: the rename literal, else the name.
    pub(crate) fn tag_span(&self) -> Span {
        self.rename
            .as_ref()
            .map_or_else(|| self.ident.span(), LitStr::span)
    }
}

/// Parses `input`, recording errors in `cx`. `None` when the input is not an enum.
pub(crate) fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<Input<'a>> {
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(data) => {
            cx.error_spanned_by(
                data.struct_token,
                "`#[derive(Message)]` only supports enums: list the protocol's messages as variants, like `enum Chat { Join(Join), Say(Say) }`",
            );
            return None;
        }
        Data::Union(data) => {
            cx.error_spanned_by(data.union_token, "`#[derive(Message)]` only supports enums");
            return None;
        }
    };

    let attrs = EnumAttrs::parse(cx, input);
    let repr = match (attrs.tag, attrs.content) {
        (Some(tag), None) => Repr::Internal { tag: key(&tag) },
        (tag, content) => Repr::Adjacent {
            tag: tag.map_or_else(|| default_key(DEFAULT_TAG), |tag| key(&tag)),
            content: content.map_or_else(|| default_key(DEFAULT_CONTENT), |c| key(&c)),
        },
    };
    let rule = attrs.rename_all.as_ref().map(|(rule, _)| *rule);
    let variants = data
        .variants
        .iter()
        .map(|variant| parse_variant(cx, variant, rule))
        .collect();
    Some(Input {
        ident: &input.ident,
        generics: &input.generics,
        krate: attrs
            .krate
            .unwrap_or_else(|| syn::parse_quote!(::typed_ws::__private)),
        repr,
        rename_all: attrs.rename_all,
        variants,
    })
}

fn key(lit: &LitStr) -> Key {
    Key {
        value: lit.value(),
        span: lit.span(),
    }
}

fn default_key(value: &str) -> Key {
    Key {
        value: value.to_owned(),
        span: Span::call_site(),
    }
}

#[derive(Default)]
struct EnumAttrs {
    tag: Option<LitStr>,
    content: Option<LitStr>,
    rename_all: Option<(RenameRule, LitStr)>,
    krate: Option<syn::Path>,
}

impl EnumAttrs {
    fn parse(cx: &Ctxt, input: &DeriveInput) -> Self {
        let mut attrs = EnumAttrs::default();
        for attr in input
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("message"))
        {
            let result = attr.parse_nested_meta(|meta| {
                let name = path_name(&meta);
                match name.as_str() {
                    "tag" => set_once(cx, &meta, &mut attrs.tag, meta.value()?.parse()?),
                    "content" => set_once(cx, &meta, &mut attrs.content, meta.value()?.parse()?),
                    "rename_all" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        match RenameRule::from_name(&lit.value()) {
                            Ok(rule) => set_once(cx, &meta, &mut attrs.rename_all, (rule, lit)),
                            Err(message) => cx.error_spanned_by(&lit, message),
                        }
                    }
                    "crate" => {
                        let lit: LitStr = meta.value()?.parse()?;
                        match lit.parse::<syn::Path>() {
                            Ok(path) => set_once(cx, &meta, &mut attrs.krate, path),
                            Err(_) => cx.error_spanned_by(
                                &lit,
                                format!("`crate` must be a path, like \"::typed_ws::__private\", not \"{}\"", lit.value()),
                            ),
                        }
                    }
                    _ => {
                        let hint = if VARIANT_ATTRS.contains(&name.as_str()) {
                            format!("; `{name}` goes on a variant, not on the enum")
                        } else {
                            String::new()
                        };
                        cx.error_spanned_by(&meta.path, unknown(&name, ENUM_ATTRS, &hint));
                        skip_value(&meta)?;
                    }
                }
                Ok(())
            });
            if let Err(error) = result {
                cx.syn_error(error);
            }
        }
        attrs
    }
}

fn parse_variant<'a>(
    cx: &Ctxt,
    variant: &'a syn::Variant,
    rule: Option<RenameRule>,
) -> Variant<'a> {
    let mut rename: Option<LitStr> = None;
    let mut binary = None;
    let mut text = None;
    let mut other = None;
    for attr in variant
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("message"))
    {
        let result = attr.parse_nested_meta(|meta| {
            let name = path_name(&meta);
            match name.as_str() {
                "rename" => set_once(cx, &meta, &mut rename, meta.value()?.parse()?),
                "binary" => flag(cx, &meta, &mut binary)?,
                "text" => flag(cx, &meta, &mut text)?,
                "other" => flag(cx, &meta, &mut other)?,
                _ => {
                    let hint = if ENUM_ATTRS.contains(&name.as_str()) {
                        format!("; `{name}` goes on the enum, not on a variant")
                    } else {
                        String::new()
                    };
                    cx.error_spanned_by(&meta.path, unknown(&name, VARIANT_ATTRS, &hint));
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            cx.syn_error(error);
        }
    }
    for field in &variant.fields {
        for attr in field
            .attrs
            .iter()
            .filter(|attr| attr.path().is_ident("message"))
        {
            cx.error_spanned_by(
                attr,
                "`#[message(...)]` goes on the enum or on a variant, not on a field",
            );
        }
    }
    let name = variant.ident.unraw().to_string();
    let tag = match (&rename, rule) {
        (Some(lit), _) => lit.value(),
        (None, Some(rule)) => rule.apply(&name),
        (None, None) => name,
    };
    Variant {
        ident: &variant.ident,
        fields: &variant.fields,
        tag,
        rename,
        binary,
        text,
        other,
    }
}

/// The attribute's name as written (`a::b` for a path).
fn path_name(meta: &ParseNestedMeta<'_>) -> String {
    meta.path.to_token_stream().to_string().replace(' ', "")
}

fn unknown(name: &str, expected: &[&str], hint: &str) -> String {
    let expected = expected
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("unknown message attribute `{name}`, expected one of {expected}{hint}")
}

fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(
            &meta.path,
            format!("duplicate message attribute `{}`", path_name(meta)),
        );
    } else {
        *slot = Some(value);
    }
}

/// A flag such as `binary`: no value, at most once.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, slot: &mut Option<Span>) -> syn::Result<()> {
    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        cx.error_spanned_by(
            &meta.path,
            format!(
                "`{}` takes no value: write `#[message({0})]`",
                path_name(meta)
            ),
        );
        skip_value(meta)?;
    }
    let span = meta.path.span_of_first();
    set_once(cx, meta, slot, span);
    Ok(())
}

/// Consumes `= value` or `(...)` after an attribute name that was already reported.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

trait PathSpan {
    fn span_of_first(&self) -> Span;
}

impl PathSpan for syn::Path {
    fn span_of_first(&self) -> Span {
        self.segments
            .first()
            .map_or_else(Span::call_site, |segment| segment.ident.span())
    }
}
