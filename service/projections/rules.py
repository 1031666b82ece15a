"""Rule sets of the yearly count, as data: which rules apply from which reporting year.

A photo names the set it used; a rebuild of an old year uses that year's set. To follow a
new rule of the regulator, add a row to RULE_SETS (never change a row a stored photo names).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleSet:
    name: str
    from_year: int  # the first reporting year it applies to
    solved_elsewhere_is_answered: bool  # from reporting year 2022 (brochure)
    reports_priority_group: bool  # no longer reported from reporting year 2024
    description: str  # in Dutch, for whoever reads the report

    @property
    def categories(self) -> tuple[str, ...]:
        cats = ["all", "urgent", "extended_hours"]
        if self.reports_priority_group:
            cats.append("priority_group")
        return (*cats, "vulnerable_family", "special_care")


RULE_SETS: tuple[RuleSet, ...] = (
    RuleSet("regels-2019", 2000, solved_elsewhere_is_answered=False, reports_priority_group=True,
            description="rapporteringsjaren tot 2021: opgelost in een andere gemeente telt als niet beantwoord"),
    RuleSet("regels-2022", 2022, solved_elsewhere_is_answered=True, reports_priority_group=True,
            description="rapporteringsjaren 2022-2023: opgelost in een andere gemeente telt als beantwoord"),
    RuleSet("regels-2024", 2024, solved_elsewhere_is_answered=True, reports_priority_group=False,
            description="vanaf rapporteringsjaar 2024: opgelost elders telt als beantwoord; "
                        "de voorrangsgroep wordt niet meer gerapporteerd"),
)


def rules_for(year: int) -> RuleSet:
    """The set in force for a reporting year: the last one that starts at or before it."""
    applicable = [r for r in RULE_SETS if r.from_year <= year]
    if not applicable:
        raise KeyError(f"geen telregels voor rapporteringsjaar {year}")
    return max(applicable, key=lambda r: r.from_year)


def rules_by_name(name: str) -> RuleSet:
    for rules in RULE_SETS:
        if rules.name == name:
            return rules
    raise KeyError(name)
