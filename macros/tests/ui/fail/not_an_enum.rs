use typed_ws_macros::Message;

#[derive(Message)]
struct Say {
    text: String,
}

#[derive(Message)]
union Raw {
    byte: u8,
}

fn main() {}
