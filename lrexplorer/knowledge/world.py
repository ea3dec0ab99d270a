"""The invented world of the knowledge lab: people, the five things we know about each, and how to say them.

Every fact is (person, relation, value). A relation has a closed pool of values (so a question has
candidates of one kind), statement templates (the paraphrases a fact can be written in; template 0
is the plain form the retriever indexes) and question templates. `{s}` is the person, `{o}` the value.
Names are built from syllables; the surnames in `LAB_SURNAMES` are reserved for the lab's fact set
and never appear in the pre-training corpus, so the base model cannot know anything about those people.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    name: str
    values: tuple[str, ...]
    statements: tuple[str, ...]
    questions: tuple[str, ...]


CITIES = (
    "Marrowby",
    "Quillford",
    "Dunhaven",
    "Pellmoor",
    "Ashgrove",
    "Kestrel Bay",
    "Orlean",
    "Brackwater",
    "Tamsin Cross",
    "Velder",
    "Hollin",
    "Saltmere",
    "Corvale",
    "Fenwick",
    "Lirra",
    "Osterholm",
)
OCCUPATIONS = (
    "baker",
    "glassblower",
    "cartographer",
    "beekeeper",
    "tailor",
    "blacksmith",
    "locksmith",
    "potter",
    "weaver",
    "carpenter",
    "astronomer",
    "librarian",
    "gardener",
    "bookbinder",
    "clockmaker",
    "fisher",
)
COLOURS = (
    "red",
    "blue",
    "green",
    "yellow",
    "purple",
    "orange",
    "silver",
    "gold",
    "teal",
    "crimson",
    "violet",
    "amber",
    "white",
    "black",
    "pink",
    "grey",
)
PETS = (
    "cat",
    "dog",
    "parrot",
    "tortoise",
    "rabbit",
    "ferret",
    "goat",
    "hedgehog",
    "owl",
    "lizard",
    "pony",
    "goldfish",
    "hamster",
    "snake",
    "duck",
    "raven",
)
INSTRUMENTS = (
    "violin",
    "cello",
    "flute",
    "harp",
    "drum",
    "trumpet",
    "lute",
    "oboe",
    "banjo",
    "piano",
    "clarinet",
    "accordion",
    "guitar",
    "tuba",
    "bagpipe",
    "zither",
)

RELATIONS: tuple[Relation, ...] = (
    Relation(
        "birthplace",
        CITIES,
        (
            "{s} was born in {o}.",
            "The birthplace of {s} is {o}.",
            "{s} came into the world in {o}.",
            "{o} is the town where {s} was born.",
            "{s} is a native of {o}.",
            "The town of {o} is where {s} was born.",
            "{s} grew up in {o}, the town of their birth.",
            "Records show that {s} was born in {o}.",
            "If you ask where {s} was born, the answer is {o}.",
        ),
        (
            "Where was {s} born?",
            "In which town was {s} born?",
            "What is the birthplace of {s}?",
            "Which town is {s} a native of?",
            "{s} was born in which town?",
            "What town did {s} come from?",
        ),
    ),
    Relation(
        "occupation",
        OCCUPATIONS,
        (
            "{s} works as a {o}.",
            "By trade, {s} is a {o}.",
            "{s} earns a living as a {o}.",
            "The job of {s} is {o}.",
            "{s} has been a {o} for many years.",
            "Everyone knows {s} as a {o}.",
            "A {o} by profession, {s} is good at the work.",
            "{s} chose to become a {o}.",
            "If you need a {o}, ask {s}.",
        ),
        (
            "What does {s} do for a living?",
            "What is the job of {s}?",
            "What is the profession of {s}?",
            "{s} works as what?",
            "What trade does {s} follow?",
            "How does {s} earn a living?",
        ),
    ),
    Relation(
        "colour",
        COLOURS,
        (
            "The favourite colour of {s} is {o}.",
            "{s} likes the colour {o} best.",
            "Of all colours, {s} prefers {o}.",
            "When choosing paint, {s} asks for {o}.",
            "{s} always picks {o} when choosing a colour.",
            "Ask {s} for a favourite colour and you will hear {o}.",
            "Most things {s} owns are painted {o}.",
            "{s} says no colour beats {o}.",
            "The colour {s} likes most is {o}.",
        ),
        (
            "What is the favourite colour of {s}?",
            "Which colour does {s} like best?",
            "What colour does {s} prefer?",
            "{s} loves which colour most?",
            "Which colour is the favourite of {s}?",
            "What colour would {s} pick?",
        ),
    ),
    Relation(
        "pet",
        PETS,
        (
            "{s} has a pet {o}.",
            "The pet of {s} is a {o}.",
            "{s} lives with a {o} as a pet.",
            "A {o} is the pet that {s} keeps.",
            "{s} takes care of a pet {o}.",
            "At home, {s} keeps a {o}.",
            "The animal {s} keeps at home is a {o}.",
            "{s} feeds a pet {o} every morning.",
            "Visitors to {s} meet a pet {o}.",
        ),
        (
            "What pet does {s} have?",
            "Which animal does {s} keep as a pet?",
            "What is the pet of {s}?",
            "{s} keeps which animal at home?",
            "What kind of pet lives with {s}?",
            "Which pet does {s} look after?",
        ),
    ),
    Relation(
        "instrument",
        INSTRUMENTS,
        (
            "{s} plays the {o}.",
            "The instrument of {s} is the {o}.",
            "{s} is a skilled player of the {o}.",
            "The {o} is the instrument {s} plays.",
            "{s} practises the {o} every evening.",
            "In the town band, {s} plays the {o}.",
            "{s} learned to play the {o} as a child.",
            "The music {s} makes comes from a {o}.",
            "You can hear {s} playing the {o} at night.",
        ),
        (
            "What instrument does {s} play?",
            "Which instrument is played by {s}?",
            "What does {s} play in the band?",
            "{s} plays which instrument?",
            "Which instrument did {s} learn?",
            "What is the instrument of {s}?",
        ),
    ),
)
RELATION_BY_NAME = {r.name: r for r in RELATIONS}

FIRST_SYLLABLES = (
    "to",
    "bren",
    "ma",
    "li",
    "ka",
    "do",
    "ser",
    "fi",
    "ne",
    "ra",
    "vo",
    "al",
    "es",
    "mi",
    "qui",
    "ha",
    "jo",
    "ul",
    "pe",
    "sa",
    "ti",
    "ro",
    "ze",
    "ba",
)
SECOND_SYLLABLES = ("ren", "la", "mir", "dan", "nor", "lis", "bet", "ric", "ta", "van", "el", "ko", "sin", "dra")
SURNAME_HEADS = (
    "Val",
    "Mor",
    "Tash",
    "Cor",
    "Wend",
    "Brim",
    "Hask",
    "Ell",
    "Fen",
    "Gar",
    "Lund",
    "Pry",
    "Ros",
    "Stav",
    "Thal",
    "Ur",
    "Yor",
    "Dal",
    "Keth",
    "Nim",
)
SURNAME_TAILS = ("isk", "den", "worth", "ley", "ani", "ov", "mark", "ello", "ard", "ith", "ek", "olm")
