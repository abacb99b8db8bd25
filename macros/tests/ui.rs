//! Compile-time behaviour of `#[derive(Message)]`: what compiles, and the errors (with their
//! spans) for what does not. Regenerate the `.stderr` files with `TRYBUILD=overwrite` and review
//! every change.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
