//! Chinese word segmentation for the embedded index: jieba, with the shop's own words (the
//! places it sells from, its crafts and foods) added to the dictionary so that 西兰卡普, 苕粉 or
//! 城口 come out as words rather than as pieces.

use jieba_rs::{Jieba, TokenizeMode};
use jinguo_common::region::{CHONGQING, regions};
use std::sync::{Arc, OnceLock};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Words jieba's general dictionary splits or misses, given a high frequency so they win.
const SHOP_WORDS: &[&str] = &[
    "西兰卡普",
    "土家织锦",
    "织锦",
    "苗绣",
    "蜀绣",
    "竹编",
    "腊肉",
    "老腊肉",
    "香肠",
    "蜂蜜",
    "中蜂",
    "土蜂蜜",
    "百花蜜",
    "苕粉",
    "红薯粉",
    "脆李",
    "脆红李",
    "脐橙",
    "春橙",
    "毛尖",
    "绿茶",
    "红茶",
    "白茶",
    "山货",
    "香菇",
    "木耳",
    "核桃",
    "笋干",
    "洋芋",
    "洋芋片",
    "莼菜",
    "辣椒",
    "巧姐",
    "扶贫车间",
    "示范基地",
    "合作社",
    "挂毯",
    "布鞋",
    "鞋垫",
    "背篓",
    "果脯",
];

/// The shop's jieba, built once (loading the dictionary takes a moment).
pub fn jieba() -> Arc<Jieba> {
    static JIEBA: OnceLock<Arc<Jieba>> = OnceLock::new();
    JIEBA
        .get_or_init(|| {
            let mut jieba = Jieba::new();
            let places = regions();
            let mut words: Vec<String> = SHOP_WORDS.iter().map(|w| (*w).to_owned()).collect();
            for district in places.districts_of_province(CHONGQING) {
                words.push(district.name.clone());
                words.push(district.short_name.clone());
            }
            for word in words {
                if word.chars().count() >= 2 {
                    jieba.add_word(&word, Some(50_000), None);
                }
            }
            Arc::new(jieba)
        })
        .clone()
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Whether a token is worth indexing: it has a letter, digit or Chinese character.
fn is_word(text: &str) -> bool {
    text.chars().any(|c| c.is_alphanumeric())
}

/// Segments text for indexing (`Index`) or for a query (`Query`). Indexing uses jieba's search
/// mode (a long word and the shorter words inside it) plus every Chinese character on its own,
/// so that a one-character query such as 茶 still finds 绿茶. Queries use the plain segmentation.
#[derive(Clone)]
pub struct ChineseTokenizer {
    jieba: Arc<Jieba>,
    mode: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Index,
    Query,
}

impl ChineseTokenizer {
    pub fn new(mode: Mode) -> Self {
        Self {
            jieba: jieba(),
            mode,
        }
    }

    /// The tokens of `text`, lowercased, without punctuation or spaces.
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mode = match self.mode {
            Mode::Index => TokenizeMode::Search,
            Mode::Query => TokenizeMode::Default,
        };
        let mut out = Vec::new();
        for piece in self.jieba.tokenize(text, mode, true) {
            if !is_word(piece.word) {
                continue;
            }
            out.push(Token {
                offset_from: piece.byte_start,
                offset_to: piece.byte_end,
                position: out.len(),
                text: piece.word.to_lowercase(),
                position_length: 1,
            });
            if self.mode == Mode::Index && piece.word.chars().count() > 1 {
                for (i, c) in piece.word.char_indices().filter(|(_, c)| is_cjk(*c)) {
                    out.push(Token {
                        offset_from: piece.byte_start + i,
                        offset_to: piece.byte_start + i + c.len_utf8(),
                        position: out.len(),
                        text: c.to_string(),
                        position_length: 1,
                    });
                }
            }
        }
        out
    }
}

/// Splits a query word into its Chinese characters (for words the index does not know whole).
pub fn cjk_chars(word: &str) -> Option<Vec<String>> {
    let chars: Vec<String> = word
        .chars()
        .filter(|c| is_cjk(*c))
        .map(String::from)
        .collect();
    (chars.len() > 1 && chars.len() == word.chars().count()).then_some(chars)
}

pub struct VecTokenStream {
    tokens: Vec<Token>,
    index: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        if self.index < self.tokens.len() {
            self.index += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.index - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.index - 1]
    }
}

impl Tokenizer for ChineseTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream {
            tokens: self.tokens(text),
            index: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(mode: Mode, text: &str) -> Vec<String> {
        ChineseTokenizer::new(mode)
            .tokens(text)
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn keeps_the_shops_words_whole() {
        let q = words(Mode::Query, "城口蜂蜜");
        assert_eq!(q, vec!["城口", "蜂蜜"]);
        assert!(words(Mode::Query, "酉阳西兰卡普挂毯").contains(&"西兰卡普".to_owned()));
        let indexed = words(Mode::Index, "秀山毛尖绿茶");
        assert!(indexed.contains(&"绿茶".to_owned()) && indexed.contains(&"茶".to_owned()));
    }

    #[test]
    fn drops_punctuation_and_lowercases() {
        assert_eq!(words(Mode::Query, "Honey，蜂蜜！"), vec!["honey", "蜂蜜"]);
    }

    #[test]
    fn offsets_point_into_the_text() {
        let text = "巫山脆李 5斤";
        for t in ChineseTokenizer::new(Mode::Index).tokens(text) {
            assert_eq!(text[t.offset_from..t.offset_to].to_lowercase(), t.text);
        }
    }
}
