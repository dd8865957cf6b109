"""The `pages` scenario of console_browser.py: every page of the console in a real browser.

- each page in light and dark, at 1024 and 360 px: a screenshot, axe-core (no serious or critical
  violation), no sideways scrolling of the page itself (wide tables scroll in their own box);
- the login and a migrate by keyboard alone, with a visible focus ring;
- a resource created from a template through the create page;
- an edit of a definition someone else changed meanwhile: refused, the current version shown,
  the user's text kept; saved on the second try;
- an observer sees no action and a read-only editor; deleting that user logs their open page out.
"""
import json
import os
import ssl
import urllib.request

from axe_selenium_python import Axe
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

RESOURCE = "web"
ADDRESS = "198.18.0.102"


def run(driver, new_driver, args, wait, fail):
    shots = os.path.join(args.shots, "pages")
    os.makedirs(shots, exist_ok=True)
    problems = []

    def text(element_id):
        return driver.find_element(By.ID, element_id).text

    def check_page(name, target=None):
        """Light and dark, wide and narrow: screenshot, axe, no sideways scroll."""
        target = target or driver
        axe = Axe(target)
        for scheme in ["light", "dark"]:
            target.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                   {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
            for width in [1024, 360]:
                target.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                       {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600})
                wait(f"{name} laid out at {width} px", 10,
                     lambda: target.execute_script("return document.readyState") == "complete")
                overflow = target.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                if overflow > 1:
                    problems.append(f"{name} ({scheme}, {width} px) scrolls sideways by {overflow} px")
                target.save_screenshot(os.path.join(shots, f"{name}-{scheme}-{width}.png"))
                axe.inject()
                results = axe.run()
                for violation in results["violations"]:
                    if violation["impact"] in ("serious", "critical"):
                        where = [node["target"] for node in violation["nodes"]][:3]
                        problems.append(f"{name} ({scheme}, {width} px): axe {violation['impact']} "
                                        f"{violation['id']}: {violation['help']} at {where}")
        target.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        target.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        print(f"browser: page {name} checked (light, dark, 1024 px, 360 px)", flush=True)

    def press(key, times=1):
        for _ in range(times):
            ActionChains(driver).send_keys(key).perform()

    def tab_to(description, matches, limit=60):
        """Tab through the page until the focused element matches (a keyboard user's way)."""
        for _ in range(limit):
            press(Keys.TAB)
            active = driver.switch_to.active_element
            if matches(active):
                outline = driver.execute_script(
                    "const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth")
                if outline.startswith("none") or outline.endswith(" 0px"):
                    problems.append(f"no visible focus on {description}: outline {outline}")
                return active
        fail(f"{description} cannot be reached with Tab")

    def accept_confirm(what):
        alert = wait(f"the confirmation of {what}", 10, lambda: driver.switch_to.alert)
        question = alert.text
        alert.accept()
        return question

    # The login page, then a login by keyboard alone.
    driver.get(args.url + "/login")
    check_page("login")
    driver.get(args.url + "/login")
    tab_to("the user field", lambda e: e.get_attribute("id") == "user").send_keys(args.user)
    press(Keys.TAB)
    if driver.switch_to.active_element.get_attribute("id") != "password":
        fail("Tab from the user field does not reach the password field")
    driver.switch_to.active_element.send_keys(args.password)
    press(Keys.ENTER)
    wait("the cluster page after a keyboard login", 20, lambda: driver.find_elements(By.ID, "resources"))
    print("browser: logged in by keyboard alone", flush=True)
    wait("the live connection", 20, lambda: driver.find_element(By.ID, "banner").get_attribute("hidden") is not None)
    check_page("cluster")

    # Create a resource from a template.
    driver.get(args.url + "/create")
    check_page("create")
    driver.get(args.url + "/create")
    driver.find_element(By.ID, "name").send_keys(RESOURCE)
    driver.find_element(By.ID, "var-RESOURCE_IP").send_keys(ADDRESS)
    driver.find_element(By.ID, "preferred").send_keys("n2, n3")
    if driver.find_element(By.ID, "var-SERVICE").is_displayed():
        fail("the create page shows a variable Generic_IP_Service does not use")
    driver.find_element(By.CSS_SELECTOR, "#create-form button[type=submit]").click()
    question = accept_confirm("create")
    wait("the new resource's page", 30, lambda: f"/resources/{RESOURCE}" in driver.current_url)
    wait(f"{RESOURCE} running", 60, lambda: text("state") == "Running" and text("where") == "n2")
    print(f"browser: created {RESOURCE} from the create page ({question!r}); Running on n2", flush=True)
    check_page("resource")

    # Migrate by keyboard: Tab to the Migrate button (target: next preferred), Enter, confirm.
    driver.get(args.url + f"/resources/{RESOURCE}")
    wait("the live connection", 20, lambda: driver.find_element(By.ID, "banner").get_attribute("hidden") is not None)
    tab_to("the Migrate button", lambda e: e.get_attribute("data-action") == "migrate")
    press(Keys.ENTER)
    question = accept_confirm("migrate")
    wait("the migrate's receipt", 30, lambda: "sent (command" in text("action-status"))
    wait(f"{RESOURCE} running on n3", 60, lambda: text("state") == "Running" and text("where") == "n3")
    print(f"browser: migrated by keyboard ({question!r}); now Running on n3", flush=True)

    # A stale edit: the user edits, someone else saves meanwhile; the save is refused with the
    # current version shown and the user's text kept; the second save replaces it knowingly.
    editor = driver.find_element(By.ID, "script-load")
    editor.send_keys(Keys.CONTROL, Keys.END)
    editor.send_keys("\n# from the browser")
    api = Api(args.url, args.user, args.password, args.ca)
    detail = api.call("GET", f"/v1/resources/{RESOURCE}")
    definition = detail["definition"]
    definition["load"]["body"] += "\n# from elsewhere"
    api.call("PUT", f"/v1/resources/{RESOURCE}", definition, {"If-Match": f'"{detail["revision"]}"'})
    driver.find_element(By.CSS_SELECTOR, "#editor button[type=submit]").click()
    accept_confirm("save")
    wait("the refusal of the stale edit", 30, lambda: "Not saved" in text("edit-status"))
    conflict = driver.find_element(By.ID, "conflict")
    if not conflict.is_displayed() or "# from elsewhere" not in conflict.text:
        fail(f"the current version is not shown: {conflict.text!r}")
    if "# from the browser" not in editor.get_attribute("value"):
        fail("the user's text was lost")
    driver.execute_script("document.getElementById('edit-status').scrollIntoView({block: 'start'})")
    driver.save_screenshot(os.path.join(shots, "stale-edit.png"))
    print(f"browser: stale edit refused: {text('edit-status')!r}", flush=True)
    driver.find_element(By.CSS_SELECTOR, "#editor button[type=submit]").click()
    accept_confirm("save again")
    wait("the second save", 30, lambda: text("edit-status").startswith("Saved"))
    saved = api.call("GET", f"/v1/resources/{RESOURCE}")["definition"]["load"]["body"]
    if not saved.endswith("# from the browser") or "# from elsewhere" in saved:
        fail(f"the second save did not store the browser's text: {saved[-80:]!r}")
    print("browser: the second save replaced the current version knowingly", flush=True)

    # The event log, filtered.
    driver.get(args.url + f"/events?resource={RESOURCE}")
    wait("the filtered event log", 20, lambda: "created resource web" in text("events"))
    check_page("events")

    # Users: add an observer through the form.
    driver.get(args.url + "/users")
    check_page("users")
    driver.get(args.url + "/users")
    driver.find_element(By.ID, "user-name").send_keys("temp")
    driver.find_element(By.ID, "user-password").send_keys("temp-password-1")
    driver.find_element(By.CSS_SELECTOR, "#user-form button[type=submit]").click()
    accept_confirm("add user")
    wait("the new user in the list", 30, lambda: "temp" in text("users"))

    # The observer's page has no actions and a read-only editor; deleting the user logs it out.
    observer = new_driver()
    try:
        observer.get(args.url + "/login")
        observer.find_element(By.ID, "user").send_keys("temp")
        observer.find_element(By.ID, "password").send_keys("temp-password-1")
        observer.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait("the observer's cluster page", 20, lambda: observer.find_elements(By.ID, "resources"))
        observer.get(args.url + f"/resources/{RESOURCE}")
        wait("the observer's resource page", 20, lambda: observer.find_elements(By.ID, "script-load"))
        if observer.find_elements(By.CSS_SELECTOR, "[data-action]") or \
                observer.find_element(By.ID, "script-load").get_attribute("readonly") is None:
            fail("an observer's resource page offers changes")
        if observer.find_elements(By.XPATH, "//a[@href='/users']"):
            fail("an observer's page links the users page")
        wait("the observer's live connection", 20,
             lambda: observer.find_element(By.ID, "banner").get_attribute("hidden") is not None)
        observer.save_screenshot(os.path.join(shots, "observer.png"))
        row = f"//tbody[@id='users']/tr[td[1]='temp']//button[text()='Delete']"
        wait("the Delete button of temp", 20, lambda: driver.find_elements(By.XPATH, row))
        driver.find_element(By.XPATH, row).click()
        accept_confirm("delete user")
        wait("the deleted user's open page logged out", 60, lambda: "/login" in observer.current_url)
        observer.save_screenshot(os.path.join(shots, "observer-logged-out.png"))
        print("browser: an observer saw no actions; deleting the user logged their open page out", flush=True)
    finally:
        observer.quit()

    if problems:
        fail("page checks:\n  " + "\n  ".join(problems))
    print("browser: every page passed axe (no serious or critical violation), no sideways scroll at 360 px", flush=True)


class Api:
    """The JSON API with a bearer token, the certificate checked against the cluster CA."""

    def __init__(self, url, user, password, ca):
        self.url = url
        self.context = ssl.create_default_context(cafile=ca)
        self.token = self.call("POST", "/v1/sessions", {"user": user, "password": password}, auth=False)["token"]

    def call(self, method, path, body=None, headers=None, auth=True):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", "Bearer " + self.token)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
            data = response.read()
            return json.loads(data) if data else None
