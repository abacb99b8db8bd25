use typed_ws_macros::Message;
use typed_ws_converters::Frame;

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive")]
enum Chat {
    Ping,
    #[message(other)]
    Unknown(Frame),
    #[message(other)]
    Unexpected { tag: String, frame: Frame },
    #[message(text)]
    Raw(String),
    #[message(text)]
    Raw2(String),
}

fn main() {}
