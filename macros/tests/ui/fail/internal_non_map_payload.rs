use typed_ws_macros::Message;

#[derive(serde::Serialize, serde::Deserialize)]
struct Say {
    text: String,
}

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive", tag = "type")]
enum Chat {
    Say(Say),
    Pair(u8, u8),
    Tuple((u8, u8)),
    Text(String),
    List(Vec<u8>),
    Maybe(Option<Say>),
    Move { r#type: u8, x: i32 },
}

fn main() {}
