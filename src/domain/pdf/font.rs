//! The one font of every PDF: DejaVu Sans, shipped in `assets/fonts/` (its licence beside it),
//! shaped with `rustybuzz`, ordered with `unicode-bidi`, and embedded **subset** to the glyphs
//! used as a Type0 / CIDFontType2 font (Identity-H, a ToUnicode CMap so text extracts).
//!
//! Glyph ids are renumbered as they are first used (`subsetter::GlyphRemapper`), so a content
//! stream written before the subset exists already names the subset's glyph ids (CID = new GID).

use std::collections::HashMap;
use std::ops::Range;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Filter, Name, Rect, Ref, Str};
use rustybuzz::{Direction, Face, UnicodeBuffer};
use subsetter::GlyphRemapper;
use unicode_bidi::{BidiInfo, Level};

/// DejaVu Sans 2.37 (Bitstream Vera licence: `assets/fonts/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// What a character without a glyph in the font is drawn as.
const REPLACEMENT: char = '\u{FFFD}';

/// One glyph placed on a line: its id in the subset, how far it moves the pen and how far it
/// is drawn from the pen, across and up (font units; marks sit above or below their letter).
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    pub gid: u16,
    pub advance: i32,
    pub offset: i32,
    pub rise: i32,
}

/// A line ready to draw: glyphs in visual (left-to-right) order.
#[derive(Debug, Default)]
pub(super) struct Shaped {
    pub glyphs: Vec<Placed>,
    /// The sum of the advances (font units).
    pub width: i32,
}

pub(super) struct Font {
    face: Face<'static>,
    units: f32,
    remap: GlyphRemapper,
    /// Subset glyph id → the text it stands for (first use wins), for the ToUnicode CMap.
    text_of: HashMap<u16, String>,
    /// Nominal advance of a character (font units), for line breaking.
    advances: HashMap<char, u16>,
    /// Nominal advance of a subset glyph (font units), for the widths array.
    widths: HashMap<u16, u16>,
}

impl Font {
    pub fn new() -> Result<Self, String> {
        let face = Face::from_slice(FONT, 0).ok_or("the embedded font does not parse")?;
        let units = f32::from(face.units_per_em().max(1) as u16);
        Ok(Self {
            face,
            units,
            remap: GlyphRemapper::new(),
            text_of: HashMap::new(),
            advances: HashMap::new(),
            widths: HashMap::new(),
        })
    }

    /// Font units → points at `size`.
    pub fn points(&self, units: i32, size: f32) -> f32 {
        units as f32 * size / self.units
    }

    /// Text the font can draw: tabs become spaces, other control and invisible formatting
    /// characters are dropped, and anything without a glyph (an emoji, say) becomes U+FFFD.
    pub fn clean(&self, text: &str) -> String {
        text.chars()
            .filter_map(|c| match c {
                '\t' => Some(' '),
                c if c.is_control() || invisible(c) => None,
                c if self.face.glyph_index(c).is_none() => Some(REPLACEMENT),
                c => Some(c),
            })
            .collect()
    }

    /// The nominal width of `text` in font units (no shaping; good enough to break lines).
    pub fn measure(&mut self, text: &str) -> i32 {
        text.chars().map(|c| i32::from(self.advance(c))).sum()
    }

    fn advance(&mut self, c: char) -> u16 {
        if let Some(a) = self.advances.get(&c) {
            return *a;
        }
        let a = self
            .face
            .glyph_index(c)
            .and_then(|g| self.face.glyph_hor_advance(g))
            .unwrap_or(0);
        self.advances.insert(c, a);
        a
    }

    /// The base direction of a paragraph: right-to-left when its first strong character is.
    pub fn paragraph_level(text: &str) -> Level {
        BidiInfo::new(text, None)
            .paragraphs
            .first()
            .map_or(Level::ltr(), |p| p.level)
    }

    /// Shape one line (already cleaned and broken) of a paragraph whose base direction is
    /// `level`: the runs in visual order, each shaped in its own direction.
    pub fn shape(&mut self, line: &str, level: Level) -> Shaped {
        let mut out = Shaped::default();
        if line.is_empty() {
            return out;
        }
        let bidi = BidiInfo::new(line, Some(level));
        for para in &bidi.paragraphs {
            let (levels, runs) = bidi.visual_runs(para, para.range.clone());
            for run in runs {
                let rtl = levels.get(run.start).is_some_and(|l| l.is_rtl());
                self.shape_run(line, run, rtl, &mut out);
            }
        }
        out
    }

    fn shape_run(&mut self, line: &str, run: Range<usize>, rtl: bool, out: &mut Shaped) {
        let Some(text) = line.get(run.clone()) else {
            return;
        };
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.set_direction(if rtl {
            Direction::RightToLeft
        } else {
            Direction::LeftToRight
        });
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(&self.face, &[], buffer);
        // Where each cluster's text ends: the next larger cluster start, or the run's end.
        let mut starts: Vec<usize> = shaped
            .glyph_infos()
            .iter()
            .map(|g| g.cluster as usize)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let mut seen_cluster = std::collections::HashSet::new();
        for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
            let original = u16::try_from(info.glyph_id).unwrap_or(0);
            let gid = self.remap.remap(original);
            let cluster = info.cluster as usize;
            if seen_cluster.insert(cluster) {
                let end = starts
                    .iter()
                    .find(|s| **s > cluster)
                    .copied()
                    .unwrap_or(text.len());
                if let Some(t) = text.get(cluster..end).filter(|t| !t.is_empty()) {
                    // First use wins, except that a glyph first seen carrying a combining
                    // mark's text too is given its own character once seen alone.
                    let single = t.chars().nth(1).is_none();
                    let replace = self
                        .text_of
                        .get(&gid)
                        .is_none_or(|old| single && old.chars().nth(1).is_some());
                    if replace {
                        self.text_of.insert(gid, t.to_string());
                    }
                }
            }
            if !self.widths.contains_key(&gid) {
                let w = self
                    .face
                    .glyph_hor_advance(rustybuzz::ttf_parser::GlyphId(original))
                    .unwrap_or(0);
                self.widths.insert(gid, w);
            }
            out.glyphs.push(Placed {
                gid,
                advance: pos.x_advance,
                offset: pos.x_offset,
                rise: pos.y_offset,
            });
            out.width += pos.x_advance;
        }
    }

    /// The show-text operands of a line: runs of glyphs at one rise (points at `size`), each
    /// glyph a two-byte CID, with the adjustments (thousandths of the font size) that move the
    /// pen where shaping put it.
    pub fn operands(&self, line: &Shaped, size: f32) -> Vec<(f32, Vec<Operand>)> {
        let mut runs: Vec<(i32, Vec<Operand>)> = Vec::new();
        for g in &line.glyphs {
            if runs.last().is_none_or(|(rise, _)| *rise != g.rise) {
                runs.push((g.rise, Vec::new()));
            }
            let Some((_, ops)) = runs.last_mut() else {
                continue;
            };
            let nominal = i32::from(self.widths.get(&g.gid).copied().unwrap_or(0));
            if g.offset != 0 {
                ops.push(Operand::Adjust(-self.thousandths(g.offset)));
            }
            ops.push(Operand::Glyph(g.gid.to_be_bytes()));
            let after = nominal - g.advance + g.offset;
            if after != 0 {
                ops.push(Operand::Adjust(self.thousandths(after)));
            }
        }
        runs.into_iter()
            .map(|(rise, ops)| (self.points(rise, size), ops))
            .collect()
    }

    fn thousandths(&self, units: i32) -> f32 {
        units as f32 * 1000.0 / self.units
    }

    /// Writes the font (Type0 → CIDFontType2 → descriptor → subset FontFile2, and the
    /// ToUnicode CMap) with `type0` as the id pages refer to; `next` allocates the rest.
    pub fn write(&self, chunk: &mut Chunk, type0: Ref, next: &mut Ref) -> Result<(), String> {
        let cid = next.bump();
        let descriptor = next.bump();
        let file = next.bump();
        let cmap = next.bump();
        let name = Name(b"SWBDAA+DejaVuSans");
        let info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };

        chunk
            .type0_font(type0)
            .base_font(name)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);

        let scale = 1000.0 / self.units;
        let widths: Vec<f32> = self
            .remap
            .remapped_gids()
            .enumerate()
            .map(|(new, _)| {
                let new = u16::try_from(new).unwrap_or(0);
                f32::from(self.widths.get(&new).copied().unwrap_or(0)) * scale
            })
            .collect();
        let mut font = chunk.cid_font(cid);
        font.subtype(CidFontType::Type2)
            .base_font(name)
            .system_info(info)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        font.widths().consecutive(0, widths);
        drop(font);

        let bbox = self.face.global_bounding_box();
        let s = |v: i16| f32::from(v) * scale;
        chunk
            .font_descriptor(descriptor)
            .name(name)
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                s(bbox.x_min),
                s(bbox.y_min),
                s(bbox.x_max),
                s(bbox.y_max),
            ))
            .italic_angle(0.0)
            .ascent(s(self.face.ascender()))
            .descent(s(self.face.descender()))
            .cap_height(s(self
                .face
                .capital_height()
                .unwrap_or(self.face.ascender())))
            .stem_v(80.0)
            .font_file2(file);

        let subset = subsetter::subset(FONT, 0, &self.remap)
            .map_err(|e| format!("subsetting the font: {e}"))?;
        chunk
            .stream(file, &super::deflate(&subset))
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(subset.len()).unwrap_or(i32::MAX),
            );

        let mut map = UnicodeCmap::new(Name(b"Switchboard-UTF16"), info);
        let mut pairs: Vec<(&u16, &String)> = self.text_of.iter().collect();
        pairs.sort_unstable();
        for (gid, text) in pairs {
            map.pair_with_multiple(*gid, text.chars());
        }
        chunk
            .cmap(cmap, &super::deflate(&map.finish()))
            .filter(Filter::FlateDecode);
        Ok(())
    }
}

/// One operand of a TJ (show text with positioning) operator.
pub(super) enum Operand {
    Glyph([u8; 2]),
    Adjust(f32),
}

/// Invisible formatting characters (joiners, bidi marks and isolates, variation selectors, the
/// byte order mark, tags): dropped before shaping rather than drawn as a replacement.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}
