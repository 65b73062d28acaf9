//! Paginated A4 PDF documents of styled paragraphs (seed 002's transcript download; the
//! transcript's content is `domain/export.rs`). Pure: text in, bytes out.
//!
//! Every paragraph is cleaned (`font.rs`: no control characters; U+FFFD for what the font
//! cannot draw), broken into lines that fit (long words broken too), and each line shaped and
//! put in visual order, so Hebrew and Arabic read right-to-left (a right-to-left paragraph is
//! right-aligned) with Arabic letters joined. Pages are numbered "Page n of N".

mod font;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use font::{Font, Operand};

/// A4 in points.
const WIDTH: f32 = 595.28;
const HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
/// The baseline of the page number.
const FOOTER: f32 = 30.0;
const FONT_NAME: Name<'static> = Name(b"F1");

/// How a paragraph looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    /// The document's heading.
    Title,
    /// A line of the header (label and value).
    Field,
    /// A small grey line: who wrote what follows and when, or what happened.
    Meta,
    /// What someone wrote, indented under its meta line (from the right when it reads
    /// right-to-left).
    Body,
}

impl Style {
    /// Font size, grey level (0 black), left indent, space above (points).
    fn look(self) -> (f32, f32, f32, f32) {
        match self {
            Style::Title => (16.0, 0.0, 0.0, 0.0),
            Style::Field => (10.0, 0.0, 0.0, 0.0),
            Style::Meta => (8.5, 0.4, 0.0, 7.0),
            Style::Body => (10.5, 0.0, 14.0, 1.0),
        }
    }
}

/// One paragraph (it may hold line breaks).
#[derive(Debug, Clone)]
pub struct Block {
    pub style: Style,
    pub text: String,
}

impl Block {
    pub fn new(style: Style, text: impl Into<String>) -> Self {
        Self {
            style,
            text: text.into(),
        }
    }
}

/// The PDF of `blocks`, titled `title` in its metadata. Fails only if the embedded font cannot
/// be read or subset (a build defect, not an input one).
pub fn document(title: &str, blocks: &[Block]) -> Result<Vec<u8>, String> {
    let mut font = Font::new()?;
    let mut pages = Pages::default();
    for block in blocks {
        pages.paragraph(&mut font, block);
    }
    let mut contents = pages.finish();
    let total = contents.len();
    for (n, content) in contents.iter_mut().enumerate() {
        let label = format!("Page {} of {total}", n + 1);
        let line = font.shape(&font.clean(&label), Font::paragraph_level(&label));
        let x = (WIDTH - font.points(line.width, 8.0)) / 2.0;
        draw(content, &font, &line, x, FOOTER, 8.0, 0.4);
    }

    let mut pdf = Pdf::new();
    let mut next = Ref::new(1);
    let catalog = next.bump();
    let tree = next.bump();
    let info = next.bump();
    let font_ref = next.bump();
    font.write(&mut pdf, font_ref, &mut next)?;
    let ids: Vec<(Ref, Ref)> = (0..total).map(|_| (next.bump(), next.bump())).collect();

    pdf.catalog(catalog).pages(tree);
    pdf.document_info(info)
        .title(TextStr(title))
        .producer(TextStr("Switchboard"));
    pdf.pages(tree)
        .kids(ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(total).unwrap_or(i32::MAX));
    for ((page, stream), content) in ids.into_iter().zip(contents) {
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
            .parent(tree)
            .contents(stream);
        p.resources().fonts().pair(FONT_NAME, font_ref);
        p.finish();
        pdf.stream(stream, &deflate(&content.finish()))
            .filter(Filter::FlateDecode);
    }
    Ok(pdf.finish())
}

/// The pages laid out so far; the last one is being filled from the top.
#[derive(Default)]
struct Pages {
    done: Vec<Content>,
    current: Option<Content>,
    /// The baseline of the last line drawn on the current page.
    y: f32,
}

impl Pages {
    fn paragraph(&mut self, font: &mut Font, block: &Block) {
        let (size, grey, indent, above) = block.style.look();
        let leading = size * 1.4;
        let width = WIDTH - 2.0 * MARGIN - indent;
        self.y -= above;
        for source in block.text.split('\n') {
            let text = font.clean(source);
            let level = Font::paragraph_level(&text);
            for line in wrap(font, &text, width, size) {
                let shaped = font.shape(&line, level);
                let x = if level.is_rtl() {
                    WIDTH - MARGIN - indent - font.points(shaped.width, size)
                } else {
                    MARGIN + indent
                };
                let (content, y) = self.room(leading);
                draw(content, font, &shaped, x, y, size, grey);
            }
        }
    }

    /// The current page and the baseline of a new line on it (a new page when it is full).
    fn room(&mut self, leading: f32) -> (&mut Content, f32) {
        let full = self.y - leading < MARGIN;
        if full || self.current.is_none() {
            if let Some(page) = self.current.take() {
                self.done.push(page);
            }
            self.y = HEIGHT - MARGIN;
        }
        self.y -= leading;
        (self.current.get_or_insert_with(Content::new), self.y)
    }

    fn finish(mut self) -> Vec<Content> {
        self.done
            .push(self.current.take().unwrap_or_else(Content::new));
        self.done
    }
}

fn draw(
    content: &mut Content,
    font: &Font,
    line: &font::Shaped,
    x: f32,
    y: f32,
    size: f32,
    grey: f32,
) {
    if line.glyphs.is_empty() {
        return;
    }
    content.set_fill_gray(grey);
    content.begin_text();
    content.set_font(FONT_NAME, size);
    content.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, y]);
    let mut raised = false;
    for (rise, ops) in font.operands(line, size) {
        if rise != 0.0 || raised {
            content.set_rise(rise);
            raised = rise != 0.0;
        }
        let mut shown = content.show_positioned();
        let mut items = shown.items();
        for op in ops {
            match op {
                Operand::Glyph(cid) => items.show(Str(&cid)),
                Operand::Adjust(by) => items.adjust(by),
            };
        }
    }
    content.end_text();
}

/// zlib-compressed (FlateDecode).
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// `text` broken into lines at most `width` points wide at `size`: at spaces where it can, inside
/// a word longer than a line where it must. An empty text is one empty line.
fn wrap(font: &mut Font, text: &str, width: f32, size: f32) -> Vec<String> {
    let fits = |font: &mut Font, s: &str| {
        let units = font.measure(s);
        font.points(units, size) <= width
    };
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_inclusive(' ') {
        let mut candidate = line.clone();
        candidate.push_str(word);
        if fits(font, candidate.trim_end()) {
            line = candidate;
            continue;
        }
        if !line.trim_end().is_empty() {
            lines.push(line.trim_end().to_string());
        }
        line = String::new();
        if fits(font, word.trim_end()) {
            line.push_str(word);
            continue;
        }
        // A word longer than a line: as many characters as fit, then the rest.
        for c in word.chars() {
            line.push(c);
            if !fits(font, line.trim_end()) && line.chars().nth(1).is_some() {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(c);
            }
        }
    }
    if !line.trim_end().is_empty() || lines.is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

#[cfg(test)]
mod tests;
