"""Rule sets of the yearly count: chosen by the reporting year, recorded with every photo."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleSet:
    name: str
    solved_elsewhere_is_answered: bool  # from reporting year 2022 (brochure)
    reports_priority_group: bool  # no longer reported from reporting year 2024
    description: str  # in Dutch, for whoever reads the report

    @property
    def categories(self) -> tuple[str, ...]:
        cats = ["all", "urgent", "extended_hours"]
        if self.reports_priority_group:
            cats.append("priority_group")
        return (*cats, "vulnerable_family", "special_care")


RULE_SETS = (
    RuleSet("regels-2019", solved_elsewhere_is_answered=False, reports_priority_group=True,
            description="rapporteringsjaren tot 2021: opgelost in een andere gemeente telt als niet beantwoord"),
    RuleSet("regels-2022", solved_elsewhere_is_answered=True, reports_priority_group=True,
            description="rapporteringsjaren 2022-2023: opgelost in een andere gemeente telt als beantwoord"),
    RuleSet("regels-2024", solved_elsewhere_is_answered=True, reports_priority_group=False,
            description="vanaf rapporteringsjaar 2024: opgelost elders telt als beantwoord; "
                        "de voorrangsgroep wordt niet meer gerapporteerd"),
)


def rules_for(year: int) -> RuleSet:
    if year >= 2024:
        return RULE_SETS[2]
    if year >= 2022:
        return RULE_SETS[1]
    return RULE_SETS[0]


def rules_by_name(name: str) -> RuleSet:
    for rules in RULE_SETS:
        if rules.name == name:
            return rules
    raise KeyError(name)
