use typed_ws_macros::Message;

struct NotSerde {
    text: String,
}

#[derive(serde::Serialize)]
struct SerializeOnly {
    text: String,
}

#[derive(Message)]
#[message(crate = "::typed_ws_converters::__derive")]
enum Chat {
    Say(NotSerde),
    Shout(SerializeOnly),
}

fn main() {
    let _ = NotSerde { text: String::new() }.text;
    let _ = SerializeOnly { text: String::new() }.text;
}
