"""The Porter2 stemmer and the stop-word lists behind TEXT fields (magpie.search.stemmer,
magpie.search.stopwords).

The word/stem pairs come from the published Porter2 description and its sample vocabulary;
each was also checked against the Snowball 2.x English stemmer RediSearch vendors.
"""

from __future__ import annotations

import pytest

from magpie.search.stemmer import stem
from magpie.search.stopwords import DEFAULT, DEFAULT_STOPWORDS, MAX_STOPWORDS, StopWords

# fmt: off
PAIRS = {
    "consign": "consign", "consigned": "consign", "consigning": "consign", "consignment": "consign",
    "consist": "consist", "consisted": "consist", "consistency": "consist", "consistent": "consist",
    "consistently": "consist", "consisting": "consist", "consists": "consist",
    "consolation": "consol", "consolations": "consol", "consolatory": "consolatori",
    "console": "consol", "consoled": "consol", "consoles": "consol", "consolidate": "consolid",
    "consolidated": "consolid", "consolidating": "consolid", "consoling": "consol",
    "consolingly": "consol", "consols": "consol", "consonant": "conson", "consort": "consort",
    "consorted": "consort", "consorting": "consort", "conspicuous": "conspicu",
    "conspicuously": "conspicu", "conspiracy": "conspiraci", "conspirator": "conspir",
    "conspirators": "conspir", "conspire": "conspir", "conspired": "conspir", "conspiring": "conspir",
    "constable": "constabl", "constables": "constabl", "constance": "constanc",
    "constancy": "constanc", "constant": "constant",
    "knack": "knack", "knackeries": "knackeri", "knacks": "knack", "knag": "knag", "knave": "knave",
    "knaves": "knave", "knavish": "knavish", "kneaded": "knead", "kneading": "knead", "knee": "knee",
    "kneel": "kneel", "kneeled": "kneel", "kneeling": "kneel", "kneels": "kneel", "knees": "knee",
    "knell": "knell", "knelt": "knelt", "knew": "knew", "knick": "knick", "knif": "knif",
    "knife": "knife", "knight": "knight", "knightly": "knight", "knights": "knight", "knit": "knit",
    "knits": "knit", "knitted": "knit", "knitting": "knit", "knives": "knive", "knob": "knob",
    "knobs": "knob", "knock": "knock", "knocked": "knock", "knocker": "knocker",
    "knockers": "knocker", "knocking": "knock", "knocks": "knock", "knopp": "knopp",
    "knot": "knot", "knots": "knot",
    "running": "run", "runs": "run", "ran": "ran", "caresses": "caress", "ponies": "poni",
    "ties": "tie", "cries": "cri", "cats": "cat", "gaps": "gap", "gas": "gas", "this": "this",
    "kiwis": "kiwi", "happy": "happi", "cry": "cri", "by": "by", "say": "say", "hopping": "hop",
    "hoped": "hope", "hoping": "hope", "agreed": "agre", "feed": "feed", "bled": "bled",
    "sing": "sing", "generate": "generat", "generously": "generous", "generation": "generat",
    "communication": "communic", "arsenal": "arsenal", "abilities": "abil", "relational": "relat",
    "conditional": "condit", "rational": "ration", "valency": "valenc", "digitizer": "digit",
    "operator": "oper", "feudalism": "feudal", "decisiveness": "decis", "hopefulness": "hope",
    "callousness": "callous", "formality": "formal", "sensitivity": "sensit",
    "sensibility": "sensibl", "triplicate": "triplic", "formative": "format",
    "formalize": "formal", "electricity": "electr", "electrical": "electr",
    "hopeful": "hope", "goodness": "good", "revival": "reviv", "allowance": "allow",
    "inference": "infer", "airliner": "airlin", "adjustable": "adjust", "defensible": "defens",
    "irritant": "irrit", "replacement": "replac", "adjustment": "adjust", "dependent": "depend",
    "adoption": "adopt", "communism": "communism", "activate": "activ", "angularity": "angular",
    "homologous": "homolog", "effective": "effect", "bowdlerize": "bowdler", "controll": "control",
    "roll": "roll", "skis": "ski", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
    "idly": "idl", "gently": "gentl", "ugly": "ugli", "early": "earli", "only": "onli",
    "singly": "singl", "sky": "sky", "news": "news", "howe": "howe", "atlas": "atlas",
    "cosmos": "cosmos", "bias": "bias", "andes": "andes", "inning": "inning", "innings": "inning",
    "outing": "outing", "outings": "outing", "canning": "canning", "herring": "herring",
    "earring": "earring", "proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
    "yelling": "yell", "sayings": "say", "enjoying": "enjoy", "youth": "youth",
    "dog's": "dog", "'quoted": "quot", "we": "we", "a": "a", "fluently": "fluentli",
}
# fmt: on


@pytest.mark.parametrize(("word", "expected"), sorted(PAIRS.items()))
def test_porter2_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_words_of_fewer_than_three_letters_are_left_alone() -> None:
    assert [stem(w) for w in ("as", "is", "ys", "'s")] == ["as", "is", "ys", "'s"]


def test_longest_suffix_outside_its_region_blocks_shorter_suffixes() -> None:
    # "entli" is the longest Step 2 suffix of "fluentli" and lies before R1, so the shorter
    # "li" rule does not get a turn.
    assert stem("fluently") == "fluentli"


def test_y_after_a_vowel_is_a_consonant() -> None:
    assert stem("enjoying") == "enjoy"
    assert stem("toy") == "toy"
    assert stem("happy") == "happi"


def test_non_ascii_letters_count_as_consonants() -> None:
    assert stem("cafés") == "café"
    assert stem("naïvely") == "naïv"


def test_default_stopwords_are_redisearch_list() -> None:
    assert len(DEFAULT_STOPWORDS) == 33
    assert DEFAULT_STOPWORDS[:4] == ("a", "is", "the", "an")
    for word in ("the", "and", "with", "will", "their", "into", "such"):
        assert word in DEFAULT
    for word in ("from", "have", "i", "you"):
        assert word not in DEFAULT
    assert DEFAULT.is_default


def test_custom_stopwords_are_lowercased_deduplicated_and_sorted() -> None:
    words = StopWords([b"Foo", "bar", "FOO", "Zed"])
    assert words.words == ("bar", "foo", "zed")
    assert "foo" in words and "the" not in words
    assert not words.is_default


def test_stopwords_zero_means_none() -> None:
    empty = StopWords([])
    assert len(empty) == 0 and not empty
    assert "the" not in empty


def test_custom_stopword_list_is_capped() -> None:
    words = StopWords(f"w{i}" for i in range(MAX_STOPWORDS + 10))
    assert len(words) == MAX_STOPWORDS
    assert f"w{MAX_STOPWORDS}" not in words
