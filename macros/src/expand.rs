//! Code generation for a checked input.
//!
//! Everything is emitted inside `const _: () = { … };` and names only the private surface
//! (`::typed_ws::__private`, or the `crate` override):
//!
//! - `__TypedWsSer<'a>`: a borrowed shadow of the envelope variants with serde's `Serialize`
//!   derive and the protocol's tag/content layout, so encoding never clones a payload;
//! - `__TypedWsDe`: the owned shadow with `Deserialize`, moved into the user's enum after one
//!   deserialize;
//! - `__TypedWsTagKey`: the tag key, for the runtime tag probe;
//! - the `Message` impl, bounded by `T: Payload` for every envelope field type `T` (spanned at
//!   that type), and the `From` impls.
//!
//! The shadows carry serde `bound`s that are never trivially false (they name a lifetime), so a
//! payload that is not `Serialize + Deserialize` is reported once, by the `Message` impl's
//! bound at the payload, not again inside serde's generated code.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Fields, LitStr, Type};

use crate::ast::{Input, Kind, Repr, Variant};

/// Expands a checked input into the `Message` implementation.
pub(crate) fn expand(input: &Input<'_>) -> TokenStream {
    let envelopes: Vec<&Variant<'_>> = input
        .variants
        .iter()
        .filter(|variant| variant.kind() == Kind::Envelope)
        .collect();
    let payloads = payload_types(input, &envelopes);

    let shadows = shadows(input, &envelopes, &payloads);
    let tag_key = tag_key(input);
    let message = message_impl(input, &envelopes, &payloads);
    let froms = from_impls(input);

    quote! {
        #[doc(hidden)]
        #[allow(
            non_camel_case_types,
            non_snake_case,
            unused_qualifications,
            clippy::all,
            clippy::pedantic,
            clippy::nursery
        )]
        const _: () = {
            #shadows
            #tag_key
            #message
            #froms
        };
    }
}

/// One envelope field type, with `Self` replaced, and the span of the user's type.
struct Payload {
    ty: TokenStream,
    span: Span,
}

/// The distinct envelope field types, in declaration order.
fn payload_types(input: &Input<'_>, envelopes: &[&Variant<'_>]) -> Vec<Payload> {
    let mut seen = HashSet::new();
    envelopes
        .iter()
        .flat_map(|variant| variant.fields.iter())
        .filter_map(|field| {
            let ty = replace_self(field.ty.to_token_stream(), input.ident);
            seen.insert(ty.to_string()).then(|| Payload {
                ty,
                span: field.ty.span(),
            })
        })
        .collect()
}

/// The payload types of a variant, with `Self` replaced by the enum's name (the shadow enums
/// are other types, so `Self` inside them would mean the shadow).
fn field_types(input: &Input<'_>, fields: &Fields) -> Vec<TokenStream> {
    fields
        .iter()
        .map(|field| replace_self(field.ty.to_token_stream(), input.ident))
        .collect()
}

fn replace_self(tokens: TokenStream, ident: &Ident) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(self_ident) if self_ident == "Self" => {
                let mut renamed = ident.clone();
                renamed.set_span(self_ident.span());
                TokenTree::Ident(renamed)
            }
            TokenTree::Group(group) => {
                let mut replaced =
                    Group::new(group.delimiter(), replace_self(group.stream(), ident));
                replaced.set_span(group.span());
                TokenTree::Group(replaced)
            }
            other => other,
        })
        .collect()
}

/// `tokens` with every span set to `span`, so that an error in them (a trait bound, a type
/// mismatch) points at the user's type and nowhere else: the `crate` path would otherwise carry
/// the span of its attribute and the bindings the span of the derive.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                tree = TokenTree::Group(respanned);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// Bindings `__f0, __f1, …` for a variant's fields.
fn bindings(fields: &Fields) -> Vec<Ident> {
    (0..fields.len())
        .map(|i| format_ident!("__f{}", i))
        .collect()
}

/// `Variant`, `Variant(__f0, …)` or `Variant { a: __f0, … }`: a pattern or an expression.
fn destructure(path: TokenStream, fields: &Fields, bindings: &[Ident]) -> TokenStream {
    match fields {
        Fields::Unit => path,
        Fields::Unnamed(_) => quote!(#path(#(#bindings),*)),
        Fields::Named(named) => {
            let names = named.named.iter().map(|field| &field.ident);
            quote!(#path { #(#names: #bindings),* })
        }
    }
}

/// `"<crate>::serde"`, for serde's `crate` attribute.
fn serde_path(input: &Input<'_>) -> LitStr {
    LitStr::new(
        &format!("{}::serde", input.krate.to_token_stream()),
        Span::call_site(),
    )
}

fn serde_container_attr(input: &Input<'_>) -> TokenStream {
    let serde_path = serde_path(input);
    match &input.repr {
        Repr::Adjacent { tag, content } => {
            let (tag, content) = (&tag.value, &content.value);
            quote!(#[serde(crate = #serde_path, tag = #tag, content = #content)])
        }
        Repr::Internal { tag } => {
            let tag = &tag.value;
            quote!(#[serde(crate = #serde_path, tag = #tag)])
        }
    }
}

/// The borrowed `Serialize` shadow and the owned `Deserialize` shadow of the envelope variants.
///
/// A struct variant becomes a newtype variant over a hidden struct with the same fields: the
/// JSON is the same, and unlike serde's struct variants the hidden struct also reads the
/// positional form that formats writing structs as arrays (`MessagePack::compact`) produce.
fn shadows(input: &Input<'_>, envelopes: &[&Variant<'_>], payloads: &[Payload]) -> TokenStream {
    if envelopes.is_empty() {
        return TokenStream::new();
    }
    let krate = &input.krate;
    let serde_path = serde_path(input);
    let (ser_bound, de_bound) = serde_bounds(input, payloads);
    let container = serde_container_attr(input);
    let borrows = envelopes.iter().any(|variant| !variant.fields.is_empty());
    let lifetime = borrows.then(|| quote!(<'__typed_ws>));

    let mut structs = TokenStream::new();
    let mut ser_variants = Vec::new();
    let mut de_variants = Vec::new();
    for variant in envelopes {
        let tag = &variant.tag;
        let name = variant.ident;
        let borrowed = field_types(input, variant.fields)
            .into_iter()
            .map(|ty| quote!(&'__typed_ws #ty));
        let owned = field_types(input, variant.fields);
        if let Fields::Named(_) = variant.fields {
            let (ser_struct, de_struct) = variant_structs(name);
            // `Move {}` borrows nothing: no lifetime, or it would be unused.
            let struct_lifetime = (!variant.fields.is_empty()).then(|| quote!(<'__typed_ws>));
            let struct_ser_bound = if variant.fields.is_empty() {
                LitStr::new("", Span::call_site())
            } else {
                ser_bound.clone()
            };
            let ser_fields = shadow_fields(variant.fields, borrowed);
            let de_fields = shadow_fields(variant.fields, owned);
            let struct_name = name.unraw().to_string();
            structs.extend(quote! {
                #[derive(#krate::serde::Serialize)]
                #[serde(crate = #serde_path, rename = #struct_name, bound(serialize = #struct_ser_bound))]
                struct #ser_struct #struct_lifetime #ser_fields

                #[derive(#krate::serde::Deserialize)]
                #[serde(crate = #serde_path, rename = #struct_name, bound(deserialize = #de_bound))]
                struct #de_struct #de_fields
            });
            ser_variants.push(quote!(#[serde(rename = #tag)] #name(#ser_struct #struct_lifetime)));
            de_variants.push(quote!(#[serde(rename = #tag)] #name(#de_struct)));
        } else {
            let ser_fields = shadow_fields(variant.fields, borrowed);
            let de_fields = shadow_fields(variant.fields, owned);
            ser_variants.push(quote!(#[serde(rename = #tag)] #name #ser_fields));
            de_variants.push(quote!(#[serde(rename = #tag)] #name #de_fields));
        }
    }

    quote! {
        #structs

        #[derive(#krate::serde::Serialize)]
        #container
        #[serde(bound(serialize = #ser_bound))]
        enum __TypedWsSer #lifetime {
            #(#ser_variants,)*
        }

        #[derive(#krate::serde::Deserialize)]
        #container
        #[serde(bound(deserialize = #de_bound))]
        enum __TypedWsDe {
            #(#de_variants,)*
        }
    }
}

/// The `bound`s of the shadows: `&'__typed_ws T: Serialize` and `T: Deserialize<'de>` for every
/// payload type. They name a lifetime, so rustc does not reject them when false: a shadow's
/// impl then just does not apply, and the `Message` impl's `T: Payload` bound reports it.
fn serde_bounds(input: &Input<'_>, payloads: &[Payload]) -> (LitStr, LitStr) {
    let serde = format!("{}::serde", input.krate.to_token_stream());
    let ser = payloads
        .iter()
        .map(|payload| format!("&'__typed_ws {}: {serde}::Serialize", payload.ty))
        .collect::<Vec<_>>()
        .join(", ");
    let de = payloads
        .iter()
        .map(|payload| format!("{}: {serde}::Deserialize<'de>", payload.ty))
        .collect::<Vec<_>>()
        .join(", ");
    (
        LitStr::new(&ser, Span::call_site()),
        LitStr::new(&de, Span::call_site()),
    )
}

/// The names of the hidden structs of a struct variant.
fn variant_structs(name: &Ident) -> (Ident, Ident) {
    (
        format_ident!("__TypedWsSer_{}", name),
        format_ident!("__TypedWsDe_{}", name),
    )
}

/// The shadow value (or pattern) of an envelope variant whose fields are bound to `bindings`.
fn shadow_value(enum_name: &str, variant: &Variant<'_>, bindings: &[Ident]) -> TokenStream {
    let name = variant.ident;
    let shadow_enum = format_ident!("{}", enum_name);
    match variant.fields {
        Fields::Named(_) => {
            let (ser_struct, de_struct) = variant_structs(name);
            let hidden = if enum_name == "__TypedWsSer" {
                ser_struct
            } else {
                de_struct
            };
            let inner = destructure(quote!(#hidden), variant.fields, bindings);
            quote!(#shadow_enum::#name(#inner))
        }
        _ => destructure(quote!(#shadow_enum::#name), variant.fields, bindings),
    }
}

/// `(A, B)` or `{ a: A, b: B }` with the given field types.
fn shadow_fields(fields: &Fields, types: impl IntoIterator<Item = TokenStream>) -> TokenStream {
    let types = types.into_iter();
    match fields {
        Fields::Unit => TokenStream::new(),
        Fields::Unnamed(_) => quote!((#(#types),*)),
        Fields::Named(named) => {
            let names = named.named.iter().map(|field| &field.ident);
            quote!({ #(#names: #types),* })
        }
    }
}

/// The tag key as a type, for the runtime tag probe.
fn tag_key(input: &Input<'_>) -> TokenStream {
    let krate = &input.krate;
    let key = &input.repr.tag().value;
    quote! {
        struct __TypedWsTagKey;

        #[automatically_derived]
        impl #krate::TagKey for __TypedWsTagKey {
            const KEY: &'static str = #key;
        }
    }
}

/// The `Message` impl itself.
fn message_impl(
    input: &Input<'_>,
    envelopes: &[&Variant<'_>],
    payloads: &[Payload],
) -> TokenStream {
    let krate = &input.krate;
    let ident = input.ident;
    let tags = envelopes.iter().map(|variant| &variant.tag);
    let bounds = payloads
        .iter()
        .map(|Payload { ty, span }| respan(quote!(#ty: #krate::Payload), *span));

    let tag_arms = input.variants.iter().map(|variant| {
        let name = variant.ident;
        let tag = &variant.tag;
        quote!(#ident::#name { .. } => #tag)
    });
    let encode = encode_body(input, envelopes);
    let decode = decode_body(input, envelopes);

    quote! {
        #[automatically_derived]
        impl #krate::Message for #ident
        where
            #(#bounds,)*
        {
            const TAGS: &'static [&'static str] = &[#(#tags),*];

            fn tag(&self) -> &'static str {
                match self {
                    #(#tag_arms,)*
                }
            }

            #encode
            #decode
        }

        #[automatically_derived]
        impl #krate::ToFrame for #ident {
            fn to_frame<C: #krate::ContentConverter>(
                &self,
                converter: &C,
            ) -> ::core::result::Result<#krate::Frame, #krate::ConvertError> {
                #krate::Message::encode(self, converter)
            }
        }

        #[automatically_derived]
        impl #krate::FromFrame for #ident {
            fn from_frame<C: #krate::ContentConverter>(
                converter: &C,
                frame: &#krate::Frame,
            ) -> ::core::result::Result<Self, #krate::ConvertError> {
                <Self as #krate::Message>::decode(converter, frame)
            }
        }
    }
}

/// `encode`: raw and other variants return their frame; envelope variants become the borrowed
/// shadow, serialized in one place.
fn encode_body(input: &Input<'_>, envelopes: &[&Variant<'_>]) -> TokenStream {
    let krate = &input.krate;
    let ident = input.ident;
    let arms = input.variants.iter().map(|variant| {
        let name = variant.ident;
        let bindings = bindings(variant.fields);
        let pattern = destructure(quote!(#ident::#name), variant.fields, &bindings);
        let frame = match variant.kind() {
            Kind::Envelope => {
                let shadow = shadow_value("__TypedWsSer", variant, &bindings);
                return quote!(#pattern => #shadow);
            }
            Kind::Binary | Kind::Text => {
                let (frame, trait_name) = if variant.kind() == Kind::Binary {
                    (quote!(Binary), quote!(RawBinary))
                } else {
                    (quote!(Text), quote!(RawText))
                };
                let value = variant.newtype().map(|ty| {
                    let ty_tokens = replace_self(ty.to_token_stream(), ident);
                    respan(
                        quote!(<#ty_tokens as #krate::#trait_name>::to_frame(__f0)),
                        ty.span(),
                    )
                });
                quote!(#krate::Frame::#frame(#value))
            }
            Kind::Other => {
                let field = match variant.fields {
                    Fields::Named(named) => named.named.iter().zip(&bindings).find(|(field, _)| {
                        field.ident.as_ref().is_some_and(|name| name == "frame")
                    }),
                    _ => variant.fields.iter().zip(&bindings).next(),
                };
                let value = field.map(|(field, binding)| {
                    respan(quote!(#krate::clone_frame(#binding)), field.ty.span())
                });
                quote!(#value)
            }
        };
        if envelopes.is_empty() {
            quote!(#pattern => ::core::result::Result::Ok(#frame))
        } else {
            quote!(#pattern => return ::core::result::Result::Ok(#frame))
        }
    });

    let body = if envelopes.is_empty() {
        quote!(match self { #(#arms,)* })
    } else {
        quote! {
            let shadow = match self { #(#arms,)* };
            #krate::ContentConverter::serialize(converter, &#krate::AsMap(&shadow))
        }
    };
    let converter = if envelopes.is_empty() {
        quote!(_)
    } else {
        quote!(converter)
    };
    quote! {
        fn encode<__C: #krate::ContentConverter>(
            &self,
            #converter: &__C,
        ) -> ::core::result::Result<#krate::Frame, #krate::ConvertError> {
            #body
        }
    }
}

/// `decode`: the runtime router with the protocol's envelope, other and raw closures.
fn decode_body(input: &Input<'_>, envelopes: &[&Variant<'_>]) -> TokenStream {
    let krate = &input.krate;
    let ident = input.ident;

    let envelope = if envelopes.is_empty() {
        quote!(::core::result::Result::Err(#krate::no_envelope(converter, frame)))
    } else {
        let arms = envelopes.iter().map(|variant| {
            let name = variant.ident;
            let bindings = bindings(variant.fields);
            let from = shadow_value("__TypedWsDe", variant, &bindings);
            let to = destructure(quote!(#ident::#name), variant.fields, &bindings);
            quote!(#from => #to)
        });
        quote! {
            ::core::result::Result::map(
                #krate::ContentConverter::deserialize::<__TypedWsDe>(converter, frame),
                |envelope| match envelope { #(#arms,)* },
            )
        }
    };

    let find = |kind: Kind| input.variants.iter().find(|variant| variant.kind() == kind);
    let other = match find(Kind::Other) {
        Some(variant) => {
            let name = variant.ident;
            let value = match variant.fields {
                Fields::Named(named) => {
                    let fields = named.named.iter().map(|field| {
                        let field_name = &field.ident;
                        if field_name.as_ref().is_some_and(|name| name == "tag") {
                            respan(quote!(#field_name: tag), field.ty.span())
                        } else {
                            respan(
                                quote!(#field_name: #krate::clone_frame(frame)),
                                field.ty.span(),
                            )
                        }
                    });
                    quote!(#ident::#name { #(#fields),* })
                }
                _ => {
                    let frame = variant
                        .newtype()
                        .map(|ty| respan(quote!(#krate::clone_frame(frame)), ty.span()));
                    quote!({ let _ = tag; #ident::#name(#frame) })
                }
            };
            quote!(::core::result::Result::Ok(#value))
        }
        None => quote!(::core::result::Result::Err(tag)),
    };

    let raw_arms = [
        (Kind::Text, quote!(Text), quote!(RawText)),
        (Kind::Binary, quote!(Binary), quote!(RawBinary)),
    ]
    .into_iter()
    .filter_map(|(kind, frame_kind, trait_name)| {
        let variant = find(kind)?;
        let name = variant.ident;
        let ty = variant.newtype()?;
        let ty_tokens = replace_self(ty.to_token_stream(), ident);
        let value = respan(
            quote!(<#ty_tokens as #krate::#trait_name>::from_frame(raw)),
            ty.span(),
        );
        Some(quote! {
            #krate::Frame::#frame_kind(raw) => ::core::option::Option::Some(#ident::#name(#value))
        })
    })
    .collect::<Vec<_>>();
    let raw = if raw_arms.is_empty() {
        quote!(::core::option::Option::None)
    } else {
        quote! {
            match frame {
                #(#raw_arms,)*
                _ => ::core::option::Option::None,
            }
        }
    };

    quote! {
        fn decode<__C: #krate::ContentConverter>(
            converter: &__C,
            frame: &#krate::Frame,
        ) -> ::core::result::Result<Self, #krate::ConvertError> {
            #krate::decode::<__TypedWsTagKey, Self, __C>(
                converter,
                frame,
                <Self as #krate::Message>::TAGS,
                || #envelope,
                |tag| #other,
                || #raw,
            )
        }
    }
}

/// `From<Payload>` for every newtype variant (envelope, binary or text) whose payload type is
/// written differently from every other newtype variant's.
fn from_impls(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let candidates: Vec<(&Ident, &Type, String)> = input
        .variants
        .iter()
        .filter(|variant| variant.kind() != Kind::Other)
        .filter_map(|variant| {
            let ty = variant.newtype()?;
            let key = replace_self(ty.to_token_stream(), ident).to_string();
            Some((variant.ident, ty, key))
        })
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, _, key) in &candidates {
        *counts.entry(key).or_default() += 1;
    }
    let own_name = ident.to_string();
    candidates
        .iter()
        .filter(|(_, _, key)| counts[key.as_str()] == 1 && *key != own_name)
        .map(|(name, ty, _)| {
            let ty = replace_self(ty.to_token_stream(), ident);
            quote! {
                #[automatically_derived]
                impl ::core::convert::From<#ty> for #ident {
                    #[inline]
                    fn from(value: #ty) -> Self {
                        #ident::#name(value)
                    }
                }
            }
        })
        .collect()
}
