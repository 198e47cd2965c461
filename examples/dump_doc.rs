fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        match lore::parse::parse(&bytes, Some(&path), &Default::default()) {
            Ok((f, doc)) => {
                println!(
                    "== {path} {f} title={:?} warnings={:?}",
                    doc.title, doc.warnings
                );
                for b in doc.blocks.iter().take(40) {
                    println!(
                        "[{}] {:?} {} | {}",
                        b.heading_path.join(" > "),
                        b.kind,
                        b.location,
                        b.text.chars().take(200).collect::<String>()
                    );
                }
            }
            Err(e) => println!("== {path} ERR {e}"),
        }
    }
}
