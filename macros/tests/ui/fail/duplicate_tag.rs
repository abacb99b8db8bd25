use typed_ws_macros::Message;

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive")]
enum Chat {
    #[message(rename = "say")]
    Say,
    #[message(rename = "say")]
    Shout,
    Join,
    #[message(rename = "Join")]
    Enter,
}

fn main() {}
