use super::font::Font;
use super::*;

fn has(pdf: &[u8], needle: &str) -> bool {
    pdf.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_document_is_a_pdf_with_its_font_embedded_as_a_subset() {
    let blocks = [
        Block::new(Style::Title, "Transcript"),
        Block::new(Style::Field, "Conversation: c-1"),
        Block::new(Style::Meta, "10:00 Alice"),
        Block::new(Style::Body, "Hello, world\nשלום עולם\nمرحبا بالعالم"),
    ];
    let pdf = document("Transcript", &blocks).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"));
    for needle in [
        "/Type0",
        "/CIDFontType2",
        "/Identity-H",
        "/ToUnicode",
        "/FontFile2",
        "+DejaVuSans",
        "/MediaBox [0 0 595.28 841.89]",
    ] {
        assert!(has(&pdf, needle), "{needle} missing");
    }
    // Subset: a few glyphs, not the whole 740 KB font.
    assert!(pdf.len() < 60_000, "{} bytes", pdf.len());
}

#[test]
fn empty_input_still_makes_one_page() {
    for blocks in [vec![], vec![Block::new(Style::Body, "")]] {
        let pdf = document("", &blocks).unwrap();
        assert!(has(&pdf, "/Count 1"));
        assert!(has(&pdf, "/FontFile2"));
    }
}

#[test]
fn what_the_font_cannot_draw_becomes_a_replacement_glyph() {
    let font = Font::new().unwrap();
    assert_eq!(font.clean("ok 🦀\u{FE0F}!"), "ok \u{FFFD}!");
    let mut font = font;
    let level = Font::paragraph_level("x");
    assert_ne!(
        font.shape("\u{FFFD}", level).glyphs[0].gid,
        0,
        "not .notdef"
    );
    assert_eq!(font.clean("a\tb\u{0}c\u{200F}"), "a bc");
    let pdf = document("", &[Block::new(Style::Body, "emoji 🦀🎉 here")]).unwrap();
    assert!(has(&pdf, "/FontFile2"));
}

#[test]
fn long_words_are_broken_to_fit_the_line() {
    let mut font = Font::new().unwrap();
    let word = "x".repeat(2000);
    let lines = wrap(&mut font, &format!("short {word} tail"), 300.0, 10.0);
    assert!(lines.len() > 5, "{}", lines.len());
    assert_eq!(lines.first().map(String::as_str), Some("short"));
    assert_eq!(
        lines.concat().replace("short", "").replace("tail", ""),
        word
    );
    for line in &lines {
        let units = font.measure(line);
        assert!(font.points(units, 10.0) <= 300.0, "{line}");
    }
    assert_eq!(wrap(&mut font, "", 300.0, 10.0), vec![String::new()]);
}

#[test]
fn right_to_left_text_is_drawn_in_visual_order() {
    let mut font = Font::new().unwrap();
    let level = Font::paragraph_level("שלום");
    assert!(level.is_rtl());
    let final_mem = font.shape("ם", level).glyphs[0].gid;
    let shin = font.shape("ש", level).glyphs[0].gid;
    let word = font.shape("שלום", level);
    assert_eq!(word.glyphs.len(), 4);
    assert_eq!(word.glyphs[0].gid, final_mem, "leftmost is the last letter");
    assert_eq!(word.glyphs[3].gid, shin, "rightmost is the first letter");
}

#[test]
fn arabic_letters_take_their_joining_forms() {
    let mut font = Font::new().unwrap();
    let level = Font::paragraph_level("ب");
    let alone = font.shape("ب", level).glyphs[0].gid;
    let pair = font.shape("بب", level);
    assert_eq!(pair.glyphs.len(), 2);
    let (last, first) = (pair.glyphs[0].gid, pair.glyphs[1].gid);
    assert_ne!(first, alone, "initial form");
    assert_ne!(last, alone, "final form");
    assert_ne!(first, last);
}

#[test]
fn ten_thousand_events_lay_out_in_reasonable_time() {
    let mut blocks = vec![Block::new(Style::Title, "Transcript")];
    for i in 0..10_000 {
        blocks.push(Block::new(
            Style::Meta,
            format!("2026-01-01 10:00:{:02} Agent {i}", i % 60),
        ));
        blocks.push(Block::new(
            Style::Body,
            format!("message number {i}: the quick brown fox jumps over the lazy dog; שלום; مرحبا"),
        ));
    }
    let started = std::time::Instant::now();
    let pdf = document("big", &blocks).unwrap();
    let took = started.elapsed();
    assert!(took.as_secs() < 60, "{took:?}");
    let count = pdf.windows(7).position(|w| w == b"/Count ").and_then(|at| {
        let digits: String = pdf[at + 7..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|b| char::from(*b))
            .collect();
        digits.parse::<usize>().ok()
    });
    assert!(count.is_some_and(|n| n > 300), "{count:?} pages");
    eprintln!("10k events: {took:?}, {count:?} pages, {} bytes", pdf.len());
}

#[test]
fn marks_are_raised_or_lowered_where_shaping_puts_them() {
    let mut font = Font::new().unwrap();
    // Arabic with its vowel marks (harakat): each mark is drawn off the baseline, the letters on it.
    let text = "مَرْحَبًا";
    let line = font.shape(text, Font::paragraph_level(text));
    let runs = font.operands(&line, 10.0);
    let glyphs: usize = runs
        .iter()
        .map(|(_, ops)| {
            ops.iter()
                .filter(|o| matches!(o, font::Operand::Glyph(_)))
                .count()
        })
        .sum();
    assert_eq!(glyphs, line.glyphs.len(), "every glyph drawn once");
    assert!(
        runs.iter().any(|(rise, _)| *rise != 0.0),
        "marks off the baseline"
    );
    assert_eq!(runs.first().map(|(rise, _)| *rise), Some(0.0));
    assert_eq!(runs.last().map(|(rise, _)| *rise), Some(0.0));
    let pdf = document("", &[Block::new(Style::Body, text)]).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
}
