use typed_ws_macros::Message;

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive")]
enum Chat {
    #[message(binary)]
    Upload { bytes: Vec<u8> },
    #[message(text, binary)]
    Raw(String),
    #[message(other)]
    Unknown { tag: String },
}

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive")]
enum WrongTypes {
    #[message(binary)]
    Upload(u32),
    #[message(text)]
    Raw(Vec<u8>),
    #[message(other)]
    Unknown { tag: u32, frame: String },
}

fn main() {}
