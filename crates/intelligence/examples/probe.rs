//! Prints the intent prediction of each argument (a development probe).
fn main() {
    let m = switchboard_intelligence::IntentModel::builtin();
    println!("{m:?}");
    for a in std::env::args().skip(1) {
        println!("{a:?} -> {:?}", m.classify(&a));
    }
}
