use typed_ws_macros::Message;

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive", rename_all = "lowercase")]
enum Chat {
    FooBar,
    Foobar,
}

fn main() {}
