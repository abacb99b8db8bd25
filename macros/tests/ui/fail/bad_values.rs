use typed_ws_macros::Message;

#[derive(Message)]
#[message(rename_all = "snake-case", crate = "not a path")]
#[message(tag = "k", content = "k", tag = "again")]
enum Chat {
    #[message(binary = true)]
    Upload(Vec<u8>),
    #[message(rename = 5)]
    Ping,
}

#[derive(Message)]
enum Generic<T> {
    Value(T),
}

#[derive(Message)]
enum Empty {}

fn main() {}
