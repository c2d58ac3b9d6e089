"""The two validated questionnaires the pilot uses for payment goal 2 (seed 002,
"Trivselsdata"): WHO-5 and Danmarks Statistik's life-satisfaction question.

WHO-5 (WHO Collaborating Centre in Mental Health, Psykiatrisk Center Nordsjælland, Danish
version): five statements about the last two weeks, each answered 0-5; the raw score is the
sum (0-25) and the percentage score is the raw score times 4 (0-100). Life satisfaction:
one question, 0-10. Pure functions; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

WHO5_ITEMS: tuple[str, ...] = (
    "I de sidste 2 uger har jeg været glad og i godt humør",
    "I de sidste 2 uger har jeg følt mig rolig og afslappet",
    "I de sidste 2 uger har jeg følt mig aktiv og energisk",
    "I de sidste 2 uger er jeg vågnet frisk og udhvilet",
    "I de sidste 2 uger har min dagligdag været fyldt med ting, der interesserer mig",
)
WHO5_SCALE: tuple[tuple[int, str], ...] = (
    (5, "Hele tiden"),
    (4, "Det meste af tiden"),
    (3, "Lidt mere end halvdelen af tiden"),
    (2, "Lidt mindre end halvdelen af tiden"),
    (1, "Lidt af tiden"),
    (0, "På intet tidspunkt"),
)
LIFE_SATISFACTION_QUESTION = "Alt i alt, hvor tilfreds er du med dit liv for tiden?"
LIFE_SATISFACTION_ENDS = ("0 = slet ikke tilfreds", "10 = fuldt ud tilfreds")
OCCASIONS = {"baseline": "Første samtale (baseline)", "follow_up": "Opfølgning (6-8 måneder)"}


class AnswerError(ValueError):
    """An answer outside its scale; the message is Danish, for the page."""


@dataclass(frozen=True)
class Answers:
    who5: tuple[int, ...]
    life_satisfaction: int

    def __post_init__(self) -> None:
        if len(self.who5) != len(WHO5_ITEMS):
            raise AnswerError("Besvar alle fem WHO-5-spørgsmål.")
        if any(not isinstance(a, int) or not 0 <= a <= 5 for a in self.who5):
            raise AnswerError("Hvert WHO-5-svar er et tal fra 0 til 5.")
        ls = self.life_satisfaction
        if not isinstance(ls, int) or not 0 <= ls <= 10:
            raise AnswerError("Livstilfredshed er et tal fra 0 til 10.")

    @property
    def who5_raw(self) -> int:
        return sum(self.who5)

    @property
    def who5_percent(self) -> int:
        return self.who5_raw * 4

    def as_json(self) -> dict[str, object]:
        return {"who5": list(self.who5), "life_satisfaction": self.life_satisfaction}

    @classmethod
    def from_json(cls, value: dict[str, object]) -> Answers:
        who5 = value.get("who5")
        ls = value.get("life_satisfaction")
        if not isinstance(who5, list) or not isinstance(ls, int):
            raise AnswerError("Besvarelsen kan ikke læses.")
        return cls(tuple(int(a) for a in who5), ls)
