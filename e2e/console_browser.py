#!/usr/bin/env python3
"""A real browser on Vigil's console (headless Debian chromium through Selenium), from the client
namespace, at the console's moving address.

Scenarios:
- failover: log in; wait for the live page; tell the shell script to crash the node holding the
  console address (a line to --crash-fifo, then wait for --done-fifo); the same page must stay
  logged in, show the "reconnecting" banner and clear it, be served by another node, and list the
  failover's events exactly once.
- migrate: click Migrate while the serving node is being crashed: one migration (the shell counts).
- pages: every page in light and dark, at 1024 and 360 px, checked with axe-core (no serious or
  critical violation) and for sideways scrolling; login and a migrate by keyboard alone; create a
  resource from a template; an edit refused because someone changed the definition meanwhile (the
  current version shown, the user's text kept); an observer sees no actions; deleting that user
  logs their open page out.
Screenshots of each step go to --shots.
Exit 0 on success; a message and exit 1 otherwise. Every wait has a deadline (a hang guard).
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def fail(message):
    print(f"browser: FAIL: {message}", flush=True)
    sys.exit(1)


def wait(description, seconds, condition):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception:  # a page between two states
            pass
        time.sleep(0.05)
    fail(f"timed out after {seconds}s waiting for: {description}")


def new_driver():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1024,800",
                 # The lab's CA is not in the browser's store; the shell script checks the
                 # certificate by the console's IP with curl --cacert.
                 "--ignore-certificate-errors", "--no-first-run", "--disable-background-networking"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--shots", required=True)
    parser.add_argument("--crash-fifo")
    parser.add_argument("--done-fifo")
    parser.add_argument("--scenario", choices=["failover", "migrate", "pages"], default="failover")
    parser.add_argument("--resource", default="iManager")
    parser.add_argument("--ca", help="the cluster CA, for the API calls the pages scenario makes itself")
    args = parser.parse_args()
    os.makedirs(args.shots, exist_ok=True)

    driver = new_driver()
    try:
        if args.scenario == "pages":
            import console_pages
            console_pages.run(driver, new_driver, args, wait, fail)
            return
        driver.get(args.url + "/")
        wait("the login page", 20, lambda: "/login" in driver.current_url)
        driver.save_screenshot(os.path.join(args.shots, "01-login.png"))
        driver.find_element(By.ID, "user").send_keys(args.user)
        driver.find_element(By.ID, "password").send_keys(args.password)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait("the cluster page", 20, lambda: driver.find_elements(By.ID, "resources"))
        wait("the live connection", 20, lambda: driver.find_element(By.ID, "banner").get_attribute("hidden") is not None
             and driver.execute_script("return document.getElementById('events') !== null"))
        served_before = driver.find_element(By.ID, "served-by").text
        shown_before = int(driver.find_element(By.ID, "banner").get_attribute("data-shown") or "0")
        driver.save_screenshot(os.path.join(args.shots, "02-cluster.png"))
        print(f"browser: logged in, page served by {served_before}", flush=True)

        if args.scenario == "migrate":
            migrate_during_crash(driver, args, served_before)
            return
        with open(args.crash_fifo, "w") as fifo:
            fifo.write(served_before + "\n")
        with open(args.done_fifo) as fifo:
            fifo.readline()
        crashed_at = time.monotonic()

        # The banner may come and go between two looks: the page counts how often it was shown.
        wait("the reconnecting banner", 30,
             lambda: int(driver.find_element(By.ID, "banner").get_attribute("data-shown") or "0") > shown_before)
        driver.save_screenshot(os.path.join(args.shots, "03-reconnecting.png"))
        wait("the page served by another node", 60,
             lambda: driver.find_element(By.ID, "served-by").text not in ("", served_before))
        wait("the banner to clear", 30, lambda: driver.find_element(By.ID, "banner").get_attribute("hidden") is not None)
        reconnected = time.monotonic() - crashed_at
        if "/login" in driver.current_url:
            fail("the failover logged the browser out")
        failover = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#events li")
                    if "failover" in item.text]
        wait("the failover's events in the live log", 30,
             lambda: any("failover" in item.text for item in driver.find_elements(By.CSS_SELECTOR, "#events li")))
        texts = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#events li")]
        # Each live event carries its stream id (store revision, index within it): none may repeat.
        ids = [item.get_attribute("data-event-id") for item in driver.find_elements(By.CSS_SELECTOR, "#events li")]
        ids = [i for i in ids if i]
        if len(ids) != len(set(ids)):
            fail(f"an event was shown twice: {texts}")
        driver.save_screenshot(os.path.join(args.shots, "04-after-failover.png"))
        print(f"browser: still logged in, served by {driver.find_element(By.ID, 'served-by').text}, "
              f"reconnected {reconnected:.1f} s after the crash, {len(texts)} events, none twice "
              f"({len(failover)} failover events seen before the wait)", flush=True)
    finally:
        driver.quit()


def migrate_during_crash(driver, args, served_before):
    """Crash the node serving the page, then click Migrate on a resource: the console retries with
    the same idempotency key until a node answers; the shell script counts the migrations in the
    event log (exactly one)."""
    wait("the action buttons", 20, lambda: driver.find_elements(
        By.XPATH, f"//tbody[@id='resources']/tr[td[1]='{args.resource}']//button[text()='Migrate']"))
    driver.execute_script("window.confirm = function () { return true; };")
    button = driver.find_element(
        By.XPATH, f"//tbody[@id='resources']/tr[td[1]='{args.resource}']//button[text()='Migrate']")
    # The node serving the page is gone when the click sends the command: the first attempt
    # meets a dead address, the retries (same key) reach the address's next holder.
    with open(args.crash_fifo, "w") as fifo:
        fifo.write(served_before + "\n")
    with open(args.done_fifo) as fifo:
        fifo.readline()
    button.click()
    status = wait("the command's answer", 90, lambda: (lambda text: text if "sent (command" in text or "no answer" in text
                                                         or ": " in text and "retrying" not in text else None)(
        driver.find_element(By.ID, "action-status").text))
    driver.save_screenshot(os.path.join(args.shots, "05-migrate-during-crash.png"))
    if "sent (command" not in status:
        fail(f"the migrate was not accepted: {status}")
    # One attempt when the connection waited for the address to move, more when one timed out.
    attempts = int(driver.find_element(By.ID, "action-status").get_attribute("data-attempts") or "0")
    status += f" ({attempts} attempt{'s' if attempts != 1 else ''})"
    if "/login" in driver.current_url:
        fail("the failover logged the browser out")
    print(f"browser: {status}", flush=True)


if __name__ == "__main__":
    main()
