use typed_ws_macros::Message;

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive", tagg = "type", rename = "chat")]
enum Chat {
    #[message(binary, renam = "x", tag = "t")]
    Upload(Vec<u8>),
    #[message(other(x), rename = "u")]
    Unknown(typed_ws_converters::Frame),
    Ping {
        #[message(rename = "y")]
        y: i32,
    },
}

fn main() {}
