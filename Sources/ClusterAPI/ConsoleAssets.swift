/// The console's stylesheet and script, served by every agent (`/console.css`, `/console.js`):
/// no framework, no third-party code, no inline script or style (the Content-Security-Policy
/// forbids both).
enum ConsoleAssets {
    /// Light and dark (`prefers-color-scheme`), usable at 360 px, a visible focus ring.
    static let stylesheet = """
        :root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --line: #d0d7de; --accent: #0a5cc2;
                --muted: #57606a; --error: #b42318; --banner: #8a4500; --panel: #f6f8fa; }
        @media (prefers-color-scheme: dark) {
          :root { --fg: #e6edf3; --bg: #0d1117; --line: #30363d; --accent: #58a6ff; --muted: #9da7b3;
                  --error: #ff7b72; --banner: #9e5200; --panel: #161b22; }
        }
        * { box-sizing: border-box; }
        body { font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto;
               max-width: 64rem; padding: 1rem; }
        a { color: var(--accent); }
        header { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: .5rem;
                 border-bottom: 1px solid var(--line); padding-bottom: .5rem; }
        nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
        nav a[aria-current="page"] { font-weight: bold; text-decoration: none; }
        .who button { margin-top: 0; }
        h1 { font-size: 1.6rem; margin: .75rem 0; overflow-wrap: anywhere; }
        h2 { font-size: 1.25rem; margin-top: 1.5rem; }
        h3 { font-size: 1.05rem; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        dl.facts { display: grid; grid-template-columns: minmax(7rem, max-content) minmax(0, 1fr); gap: .25rem 1rem; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        label { display: block; margin-top: .75rem; }
        .check label, .actions label { display: inline; margin: 0 .25rem; }
        input, button, select, textarea { font: inherit; padding: .4rem; max-width: 100%; }
        textarea { display: block; width: 100%; font-family: ui-monospace, monospace; font-size: .9rem; }
        button { margin-top: .75rem; margin-right: .25rem; }
        td button { margin: 0 .25rem .25rem 0; }
        .actions { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem; }
        .actions button { margin: 0; }
        .filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: flex-end; }
        .filters label { margin-top: 0; }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        .error { color: var(--error); }
        .hint { color: var(--muted); font-size: .9rem; margin: .25rem 0; }
        .banner { position: sticky; top: 0; padding: .5rem; background: var(--banner); color: #ffffff; z-index: 1; }
        .events { padding-left: 1.2rem; font-size: .9rem; overflow-wrap: anywhere; }
        .events time { color: var(--muted); }
        pre.output, #conflict pre { background: var(--panel); padding: .5rem; overflow-x: auto; font-size: .85rem; }
        #conflict { border-left: 4px solid var(--error); padding-left: .75rem; }
        .login { max-width: 22rem; margin: 3rem auto; }
        .skip { position: absolute; left: -10000px; }
        .skip:focus { position: static; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%);
                           white-space: nowrap; }
        """

    /// The pages' live part. Server-sent events from the store (the id is the event's place in the
    /// store, its revision and index there, so a reconnect to any node resumes where it stopped),
    /// the state fetched again on each event, a banner while the connection is down; changes
    /// through the JSON API with the page's CSRF token and an idempotency key, sent again until a
    /// node answers. Text goes in with `textContent` only; a 401 (the session ended: logout, user
    /// deleted) leads to the login page, a lost connection never does.
    static let script = """
        "use strict";
        (function () {
          const root = document.getElementById("console");
          if (!root) { return; }
          const page = root.dataset.page;
          const admin = root.dataset.role === "admin";
          const csrf = root.dataset.csrf;
          const banner = document.getElementById("banner");
          const announce = document.getElementById("announce");
          const actionStatus = document.getElementById("action-status");
          const events = document.getElementById("events");
          // The newest event shown: a store revision and its index there (one revision can hold
          // several events). The page holds every event of its revision.
          let lastSeen = { revision: Number(root.dataset.revision), index: Infinity };
          let source = null;
          let lastHeard = Date.now();
          let retryDelay = 500;
          let dirty = false;
          const states = new Map();

          // MARK: Small helpers

          function showBanner(text) {
            if (text !== "" && banner.hidden) { banner.dataset.shown = String(Number(banner.dataset.shown || "0") + 1); }
            banner.textContent = text;
            banner.hidden = text === "";
          }
          function say(text) { if (actionStatus) { actionStatus.textContent = text; } }
          function sleep(milliseconds) { return new Promise(function (resolve) { setTimeout(resolve, milliseconds); }); }
          function time(milliseconds) { return new Date(milliseconds).toISOString().replace("T", " ").slice(0, 19) + " UTC"; }
          function cell(content) {
            const td = document.createElement("td");
            if (typeof content === "string") { td.textContent = content; } else if (content) { td.append(content); }
            return td;
          }
          function link(href, text) { const a = document.createElement("a"); a.href = href; a.textContent = text; return a; }
          function button(label, action) {
            const element = document.createElement("button");
            element.type = "button";
            element.textContent = label;
            element.addEventListener("click", action);
            return element;
          }
          function resourceURL(name) { return "/v1/resources/" + encodeURIComponent(name); }
          function reason(result) {
            const error = result.answer && result.answer.error;
            if (!error) { return "HTTP " + String(result.status); }
            return (error.field ? "field '" + error.field + "': value '" + error.value + "': " : "") + error.reason;
          }
          function eventText(entry) {
            return entry.node + " " + entry.kind + (entry.severity && entry.severity !== "info" ? " [" + entry.severity + "]" : "") +
              (entry.resource ? " " + entry.resource : "") + ": " + entry.message;
          }
          function sessionEnded(response) {
            if (response.status !== 401) { return false; }
            window.location.assign("/login");
            return true;
          }

          // A change through the API: the page's CSRF token, one idempotency key for all attempts,
          // sent again (5 s per attempt, backing off) to whichever node answers, until an answer
          // that is not a server error. Resolves to {ok, status, answer, headers} or null.
          async function send(method, url, body, label, headers) {
            const key = window.crypto.randomUUID();
            let delay = 500;
            for (let attempt = 1; attempt <= 20; attempt += 1) {
              if (actionStatus) { actionStatus.dataset.attempts = String(attempt); }
              try {
                const response = await fetch(url, {
                  method: method, credentials: "same-origin", signal: AbortSignal.timeout(5000),
                  headers: Object.assign({ "Content-Type": "application/json", "Idempotency-Key": key, "X-CSRF-Token": csrf },
                    headers || {}),
                  body: body === undefined ? undefined : JSON.stringify(body)
                });
                if (sessionEnded(response)) { return null; }
                if (response.status < 500) {
                  const text = await response.text();
                  return { ok: response.ok, status: response.status, answer: text ? JSON.parse(text) : {}, headers: response.headers };
                }
              } catch (error) { /* the node went away: try again */ }
              say(label + ": retrying…");
              await sleep(delay);
              delay = Math.min(delay * 2, 4000);
            }
            say(label + ": no answer; see the event log before trying again");
            return null;
          }

          async function read(url) {
            const response = await fetch(url, { credentials: "same-origin", signal: AbortSignal.timeout(5000) });
            if (sessionEnded(response) || !response.ok) { return null; }
            return response.json();
          }

          // A resource command, confirmed first: what it will do, in words.
          async function command(name, verb, body, question) {
            if (!window.confirm(question)) { return; }
            const label = verb + " " + name;
            const result = await send("POST", resourceURL(name) + "/" + verb, body, label);
            if (!result) { return; }
            say(result.ok ? label + ": sent (command " + result.answer.id + ")" : label + ": " + reason(result));
          }

          async function change(method, url, body, label, question) {
            if (question && !window.confirm(question)) { return null; }
            const result = await send(method, url, body, label);
            if (result) { say(result.ok ? label + ": done" : label + ": " + reason(result)); }
            return result;
          }

          function announceStates(resources) {
            for (const resource of resources) {
              const now = resource.state + (resource.nodes.length ? " on " + resource.nodes.join(", ") : "");
              const before = states.get(resource.name);
              if (before !== undefined && before !== now) { announce.textContent = resource.name + " is " + now; }
              states.set(resource.name, now);
            }
          }

          function resourceButtons(resource) {
            if (!admin) { return null; }
            const name = resource.name;
            const group = document.createDocumentFragment();
            group.append(
              button("Online", function () { command(name, "online", {}, "Load " + name + " on its most preferred node?"); }),
              button("Offline", function () { command(name, "offline", {}, "Unload " + name + " and keep it offline?"); }),
              button("Migrate", function () { command(name, "migrate", { to: "next" }, "Move " + name + " to the next preferred node?"); })
            );
            if (resource.state.startsWith("Alert")) {
              group.append(
                button("Alert: yes", function () { command(name, "alert", { answer: "yes" }, "Answer yes to " + name + "'s " + resource.state + "?"); }),
                button("Alert: no", function () { command(name, "alert", { answer: "no" }, "Answer no to " + name + "'s " + resource.state + "?"); })
              );
            }
            return group;
          }

          // MARK: The cluster page

          async function refreshCluster() {
            const status = await read("/v1/cluster");
            if (!status) { return; }
            const rows = document.createDocumentFragment();
            for (const resource of status.resources) {
              const row = document.createElement("tr");
              row.append(cell(link("/resources/" + encodeURIComponent(resource.name), resource.name)), cell(resource.state),
                cell(resource.nodes.join(", ")), cell(String(resource.incarnation)),
                cell(resource.upSince ? time(resource.upSince) : ""), cell(resourceButtons(resource)));
              rows.append(row);
            }
            document.getElementById("resources").replaceChildren(rows);
            announceStates(status.resources);
            const nodes = document.createDocumentFragment();
            for (const node of status.nodes) {
              const row = document.createElement("tr");
              let state = node.member ? (node.master ? "member, master" : "member") : "not a member";
              if (node.standby) { state = node.member ? "leaving" : "left (until join)"; }
              let actions = null;
              if (admin) {
                const name = node.name;
                actions = node.standby
                  ? button("Join", function () { change("POST", "/v1/nodes/" + encodeURIComponent(name) + "/join", undefined, "join " + name, "Let " + name + " join the cluster again?"); })
                  : button("Leave", function () { change("POST", "/v1/nodes/" + encodeURIComponent(name) + "/leave", undefined, "leave " + name, name + " hands its resources over and stays out until Join. Go ahead?"); });
              }
              row.append(cell(node.name), cell(state), cell(node.resources.join(", ")), cell(actions));
              nodes.append(row);
            }
            document.getElementById("nodes").replaceChildren(nodes);
            document.getElementById("served-by").textContent = status.thisNode || "";
            document.getElementById("epoch").textContent = String(status.epoch);
            document.getElementById("master").textContent = status.master || "none";
            const members = status.members.length;
            document.getElementById("quorum").textContent = String(members) + " member" + (members === 1 ? "" : "s") + ", " +
              String(status.quorum || 1) + " needed to start resources";
            const maintenance = status.maintenance.enabled;
            document.getElementById("maintenance").textContent = maintenance
              ? (status.maintenance.untilWallMilliseconds ? "on until " + time(status.maintenance.untilWallMilliseconds) : "on") : "off";
            if (admin) {
              document.getElementById("cluster-actions").replaceChildren(maintenance
                ? button("Maintenance off", function () { change("POST", "/v1/cluster/maintenance", { enabled: false }, "maintenance off", "End maintenance: the cluster acts on failures again?"); })
                : button("Maintenance on", function () { change("POST", "/v1/cluster/maintenance", { enabled: true }, "maintenance on", "Maintenance on: nodes keep their resources and nothing fails over until it is off. Go ahead?"); }));
            }
          }

          // MARK: The resource page

          const resourceName = root.dataset.resource;
          const editor = document.getElementById("editor");
          let definition = editor ? JSON.parse(editor.dataset.definition) : null;
          let definitionRevision = editor ? editor.dataset.definitionRevision : "";

          async function refreshResource() {
            const detail = await read(resourceURL(resourceName));
            if (!detail) { return; }
            const state = detail.state;
            document.getElementById("state").textContent = state.state;
            document.getElementById("where").textContent = state.nodes.join(", ");
            document.getElementById("lives").textContent = String(state.incarnation);
            document.getElementById("up-since").textContent = state.upSince ? time(state.upSince) : "";
            document.getElementById("last-result").textContent = state.lastResult || "";
            document.getElementById("pending").textContent = state.pendingCommands.length ? String(state.pendingCommands.length) : "none";
            announceStates([state]);
          }

          function setUpResourcePage() {
            for (const element of document.querySelectorAll("[data-action]")) {
              element.addEventListener("click", function () {
                const target = document.getElementById("target").value;
                const named = target !== "next" && target !== "most";
                switch (element.dataset.action) {
                  case "online":
                    command(resourceName, "online", named ? { node: target } : {},
                      "Load " + resourceName + " on " + (named ? target : "its most preferred node") + "?");
                    break;
                  case "offline":
                    command(resourceName, "offline", {}, "Unload " + resourceName + " and keep it offline?");
                    break;
                  case "migrate":
                    command(resourceName, "migrate", { to: target }, "Move " + resourceName + " to " +
                      (named ? target : target === "next" ? "the next preferred node" : "its most preferred node") + "?");
                    break;
                  case "alert-yes":
                    command(resourceName, "alert", { answer: "yes" }, "Answer yes to " + resourceName + "'s alert?");
                    break;
                  case "alert-no":
                    command(resourceName, "alert", { answer: "no" }, "Answer no to " + resourceName + "'s alert?");
                    break;
                }
              });
            }
            if (!editor) { return; }
            const editStatus = document.getElementById("edit-status");
            function scripts(spec) {
              const list = [["load", spec.load.body], ["unload", spec.unload.body]];
              if (spec.monitor) { list.push(["monitor", spec.monitor.script.body]); }
              return list;
            }
            function edited() {
              const changed = JSON.parse(JSON.stringify(definition));
              changed.load.body = document.getElementById("script-load").value;
              changed.unload.body = document.getElementById("script-unload").value;
              const monitor = document.getElementById("script-monitor");
              if (monitor && changed.monitor) { changed.monitor.script.body = monitor.value; }
              return changed;
            }
            function same(a, b) { return JSON.stringify(scripts(a)) === JSON.stringify(scripts(b)); }
            editor.addEventListener("submit", async function (submitted) {
              submitted.preventDefault();
              if (!admin) { return; }
              const changed = edited();
              if (!window.confirm("Save the scripts of " + resourceName + "? They are used from its next load.")) { return; }
              editStatus.textContent = "Saving…";
              const result = await send("PUT", resourceURL(resourceName), changed, "save",
                { "If-Match": "\\"" + definitionRevision + "\\"" });
              if (!result) { editStatus.textContent = "Not saved: no node answered. Your text is kept."; return; }
              if (result.ok) {
                definition = result.answer;
                definitionRevision = (result.headers.get("ETag") || "").replaceAll("\\"", "");
                editStatus.textContent = "Saved (revision " + definitionRevision + ").";
                document.getElementById("conflict").hidden = true;
                dirty = false;
                return;
              }
              if (result.status !== 412) { editStatus.textContent = "Not saved: " + reason(result); return; }
              // Changed meanwhile: show the current version beside the kept text; saving again
              // replaces it knowingly. (A save that reached a node which then died is no conflict.)
              const current = await read(resourceURL(resourceName));
              if (!current) { editStatus.textContent = "Not saved: " + reason(result); return; }
              definition = current.definition;
              definitionRevision = String(current.revision);
              if (same(current.definition, changed)) {
                editStatus.textContent = "Saved (revision " + definitionRevision + ").";
                dirty = false;
                return;
              }
              const shown = document.createDocumentFragment();
              for (const [action, body] of scripts(current.definition)) {
                const title = document.createElement("h4");
                title.textContent = action + " script, revision " + definitionRevision;
                const text = document.createElement("pre");
                text.textContent = body;
                text.tabIndex = 0;
                shown.append(title, text);
              }
              document.getElementById("conflict-scripts").replaceChildren(shown);
              document.getElementById("conflict").hidden = false;
              editStatus.textContent = "Not saved: " + reason(result) + ". Your text is kept above; Save again replaces the current version.";
            });
          }

          // MARK: The events page

          function matchesFilter(entry) {
            const filter = root.dataset;
            if (page === "resource") { return entry.resource === resourceName; }
            if (page !== "events") { return true; }
            if (!document.getElementById("follow").checked) { return false; }
            return (!filter.filterNode || entry.node === filter.filterNode) &&
              (!filter.filterResource || entry.resource === filter.filterResource) &&
              (!filter.filterKind || entry.kind === filter.filterKind) &&
              (!filter.filterSeverity || entry.severity === filter.filterSeverity) &&
              (!filter.filterText || entry.message.toLowerCase().includes(filter.filterText.toLowerCase()));
          }

          // MARK: The users page

          async function refreshUsers() {
            const users = await read("/v1/users");
            if (!users) { return; }
            const rows = document.createDocumentFragment();
            for (const user of users) {
              const row = document.createElement("tr");
              const name = user.name;
              row.append(cell(name), cell(user.role), cell(button("Delete", async function () {
                const result = await change("DELETE", "/v1/users/" + encodeURIComponent(name), undefined, "delete user " + name,
                  "Delete user " + name + "? Their sessions end at once.");
                if (result && result.ok) { refreshUsers(); }
              })));
              rows.append(row);
            }
            document.getElementById("users").replaceChildren(rows);
          }

          function setUpUsersPage() {
            const form = document.getElementById("user-form");
            form.addEventListener("submit", async function (submitted) {
              submitted.preventDefault();
              const name = document.getElementById("user-name").value.trim();
              const role = document.getElementById("user-role").value;
              const password = document.getElementById("user-password");
              const result = await change("PUT", "/v1/users/" + encodeURIComponent(name), { password: password.value, role: role },
                "set user " + name, "Save user " + name + " with role " + role + "? Their open sessions end.");
              if (result && result.ok) { password.value = ""; dirty = false; refreshUsers(); }
            });
            refreshUsers();
          }

          // MARK: The create page

          function setUpCreatePage() {
            const template = document.getElementById("template");
            function showVariables() {
              for (const variable of document.querySelectorAll(".variable")) {
                const used = variable.dataset.templates.split(" ").includes(template.value);
                variable.hidden = !used;
                variable.querySelector("input").required = used;
              }
            }
            template.addEventListener("change", showVariables);
            showVariables();
            document.getElementById("create-form").addEventListener("submit", async function (submitted) {
              submitted.preventDefault();
              const name = document.getElementById("name").value.trim();
              const variables = {};
              for (const input of document.querySelectorAll(".variable:not([hidden]) input")) {
                variables[input.dataset.variable] = input.value.trim();
              }
              const preferred = document.getElementById("preferred").value.split(",").map(function (node) { return node.trim(); })
                .filter(function (node) { return node !== ""; });
              const body = {
                name: name, template: template.value, variables: variables,
                startMode: document.getElementById("start-mode").value,
                failoverMode: document.getElementById("failover-mode").value,
                failbackMode: document.getElementById("failback-mode").value
              };
              if (preferred.length) { body.preferredNodes = preferred; }
              const result = await change("POST", "/v1/resources", body, "create " + name,
                "Create resource " + name + " from " + template.value + "? It starts as its start mode says.");
              if (result && result.ok) { dirty = false; window.location.assign("/resources/" + encodeURIComponent(name)); }
            });
          }

          // MARK: Live events, for every page

          function refresh() {
            switch (page) {
              case "cluster": return refreshCluster();
              case "resource": return refreshResource();
              case "users": return refreshUsers();
              default: return read("/v1/cluster");
            }
          }

          function connect() {
            // From the revision after the last one seen whole; events seen again are skipped.
            const from = lastSeen.index === Infinity ? lastSeen.revision + 1 : lastSeen.revision;
            source = new EventSource("/v1/events/stream?from=" + String(from));
            source.onopen = function () { lastHeard = Date.now(); retryDelay = 500; showBanner(""); refresh(); };
            source.onerror = function () {
              showBanner("Reconnecting…");
              // The session may have ended (deleted user, logout elsewhere): then the login page.
              read("/v1/cluster").catch(function () { /* still away */ });
            };
            source.addEventListener("ping", function () { lastHeard = Date.now(); });
            source.addEventListener("reset", function () {
              // Compacted past our place: a fresh page, unless that would lose the user's input.
              if (!dirty) { window.location.reload(); return; }
              showBanner("Some events were compacted away: reload the page once your changes are saved.");
            });
            source.onmessage = function (message) {
              lastHeard = Date.now();
              // The id is "revision" or "revision:index".
              const parts = message.lastEventId.split(":");
              const seen = { revision: Number(parts[0]), index: Number(parts[1] || 0) };
              if (seen.revision < lastSeen.revision ||
                  (seen.revision === lastSeen.revision && seen.index <= lastSeen.index)) { return; }
              lastSeen = seen;
              const entry = JSON.parse(message.data);
              if (events && matchesFilter(entry)) {
                const item = document.createElement("li");
                item.dataset.eventId = message.lastEventId;
                const stamp = document.createElement("time");
                stamp.textContent = time(entry.time);
                item.append(stamp, " " + eventText(entry));
                events.prepend(item);
                while (events.children.length > 500) { events.lastElementChild.remove(); }
                const none = document.getElementById("no-events");
                if (none) { none.remove(); }
              }
              refresh();
            };
          }

          document.addEventListener("input", function (changed) {
            if (changed.target.closest("form") && changed.target.id !== "follow") { dirty = true; }
          });

          // A node that died sends nothing, not even an error: 3 s without the ping sent every
          // second means reconnect (to whichever node holds the address now), from the last
          // revision seen. A needless reconnect costs nothing: it resumes at the same place.
          setInterval(function () {
            if (Date.now() - lastHeard < 3000) { return; }
            showBanner("Reconnecting…");
            source.close();
            lastHeard = Date.now() + retryDelay;
            retryDelay = Math.min(retryDelay * 2, 8000);
            connect();
          }, 1000);
          // A session can end without an event reaching this page (it expired): look now and then.
          setInterval(function () { refresh().catch(function () { /* the banner tells */ }); }, 30000);

          if (page === "resource") { setUpResourcePage(); }
          if (page === "users") { setUpUsersPage(); }
          if (page === "create") { setUpCreatePage(); }
          connect();
        })();
        """
}
