"""The first pages anyone sees: the sign-in page, and the home page of each role. Each
passes axe-core with no serious or critical violation and is screenshotted for the docs."""

from __future__ import annotations

import pytest

from tests.browser.checks import axe, screenshot, sign_in
from tests.people import make_user

PASSWORD = "correct horse battery staple"
PEOPLE = {
    "marketer": ("mia@example.test", ("growth",)),
    "it_reviewer": ("ivan@example.test", ()),
    "admin": ("ada@example.test", ()),
    "auditor": ("aude@example.test", ()),
}


def test_the_sign_in_page_is_accessible(page):
    page.goto("/portal/sign-in")
    assert page.title() == "Sign in · Gatehouse"
    axe(page)
    screenshot(page, "sign-in")


def test_a_wrong_password_is_said_accessibly(app, page):
    make_user(app, "mia@example.test", "marketer", ("growth",), PASSWORD)
    page.goto("/portal/sign-in")
    page.get_by_label("E-mail address").fill("mia@example.test")
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("status").inner_text().startswith("That e-mail address and password")
    assert page.get_by_label("E-mail address").input_value() == "mia@example.test"
    axe(page)


@pytest.mark.parametrize("role", PEOPLE)
def test_the_home_page_of_each_role_is_accessible(app, page, role):
    email, departments = PEOPLE[role]
    make_user(app, email, role, departments, PASSWORD)
    sign_in(page, email, PASSWORD)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Welcome")
    axe(page)
    screenshot(page, f"home-{role.replace('_', '-')}")


def test_axe_catches_what_it_should(page):
    """The check is not vacuous: an unlabelled field on a page fails it."""
    page.goto("/portal/sign-in")
    page.evaluate("document.querySelector('label[for=email]').remove()")
    with pytest.raises(AssertionError, match="label"):
        axe(page)


def test_a_person_signs_in_and_reaches_the_content_with_the_keyboard_alone(app, page):
    make_user(app, "mia@example.test", "marketer", ("growth",), PASSWORD)
    page.goto("/portal/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    for _ in range(10):  # past the single sign-on button, if any
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "email":
            break
    page.keyboard.type("mia@example.test")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/portal/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link again
    assert page.evaluate("document.activeElement.id") == "main"
