"""Page furniture: each kind is recognized by its wording or shape, and story text is kept."""

from __future__ import annotations

import pytest

from bot.summaries.furniture import furniture_kind, is_stat_list


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "This copy is for your personal, non-commercial use only. To order "
            "presentation-ready copies for distribution to colleagues, visit our reprints desk.",
            "rights",
        ),
        ("© 2025 The Harbor Ledger. All rights reserved.", "rights"),
        (
            "This material may not be published, broadcast, rewritten or redistributed.",
            "rights",
        ),
        (
            "We use cookies to personalise content and ads. By continuing to use this site you "
            "agree to our cookie policy.",
            "consent",
        ),
        ("Already a subscriber? Log in to continue reading.", "paywall"),
        ("You have reached your limit of 5 free articles this month.", "paywall"),
        ("Please disable your ad blocker to support our journalism.", "paywall"),
        (
            "This shop has been compensated by Brandlink and its advertiser. All opinions are "
            "mine alone. #ad",
            "disclosure",
        ),
        ("This post contains affiliate links. We may earn a commission.", "disclosure"),
        ("Related stories: Dredging fight heads to court", "related"),
        ("Read more: Truck traffic hits record", "related"),
        ("More from Capitol Desk", "related"),
        ("FILE - In this Nov. 5 photo, crews clear the road near Alton.", "caption"),
        ("Cranes stand idle at the terminal. (Photo: Lee Ortman/The Harbor Ledger)", "caption"),
        ("Firefighters at the scene on Tuesday. (AP Photo/Jo Reyes)", "caption"),
        ("Image caption The bridge after the storm", "caption"),
        ("Tolliver 25 points. Dawes 17 points. Burkhart 10 points. Okafor 9 rebounds.", "stats"),
        ("Was $49.99 | Now $29.99 | Save 40% | Ends Sunday", "stats"),
        ("Tested by: Jo Hale RRP: 49.95 Euro More info: shop.example", "facts"),
        ("Sign up for our newsletter", "promo"),
        ("The post Ferries resume appeared first on Island Courier.", "promo"),
    ],
)
def test_furniture_kinds(text: str, kind: str) -> None:
    assert furniture_kind(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "The port authority board voted 6-1 on Thursday to expand the Eastgate container "
        "terminal, a $640 million project that would double the port's capacity by 2031.",
        "Pero was 55.",
        "Junior guard Eli Tolliver scored 25 points, 11 of them in the fourth quarter.",
        # A story about cookies or copyright is a story.
        "Regulators fined the company $2 million on Monday for setting tracking cookies before "
        "visitors agreed to them, the third such fine this year. " * 6,
        "A photo taken by a passer-by shows the moment the crane toppled onto the road.",
        "",
    ],
)
def test_story_text_is_not_furniture(text: str) -> None:
    assert furniture_kind(text) is None


def test_stat_lists_need_several_numeric_pieces() -> None:
    assert is_stat_list("Pike 27\nGrady 12\nSuarez 8\nTotals 24-61 FG")
    assert not is_stat_list("Pike 27")
    assert not is_stat_list(
        "The Mustangs made four of 19 three-point attempts. They lost by seven. Pike scored 27."
    )
