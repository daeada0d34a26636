/* Signs the viewer in with the token Teams gives its tab (TeamsJS), then goes on to the page they asked for.
   On the tab's own page it always runs; on the sign-in page, only when framed (inside Teams), since a browser of
   its own signs in with Microsoft's page instead. A deep link into the tab ("Open in sobot" on a card) names an
   order in its context's subEntityId, which TeamsJS gives as page.subPageId: the tab then opens that order
   ("calendar" there, from `help`, opens My calendar). */
(function () {
  "use strict";
  var root = document.getElementById("teams-signin");
  if (!root) { return; }
  var framed = window.self !== window.top;
  if (root.dataset.teamsSignin !== "always" && !framed) { return; }
  var status = document.getElementById("signin-status");
  function say(text) { status.textContent = text; }
  if (typeof microsoftTeams === "undefined") {
    say("The Teams library did not load, so sobot cannot sign you in here. Reload the tab.");
    return;
  }
  // An order's reference, as the cards' deep links carry it (SO-2026-0007); anything else opens the page asked for.
  var REFERENCE = /^[A-Za-z]{2}-?\d{4}-?\d{1,6}$/;
  var CALENDAR = "calendar";
  var next = root.dataset.next || "/caseload";
  function orderFrom(context) {
    var wanted = context && context.page ? context.page.subPageId : "";
    if (typeof wanted === "string" && REFERENCE.test(wanted)) { next = "/orders/" + encodeURIComponent(wanted); }
    else if (wanted === CALENDAR) { next = "/calendar"; }
  }
  say("Signing you in with your Teams account…");
  microsoftTeams.app.initialize()
    .then(function () {
      // Without the context the tab still signs in, to the page asked for.
      return microsoftTeams.app.getContext().then(orderFrom, function () {});
    })
    .then(function () { return microsoftTeams.authentication.getAuthToken(); })
    .then(function (token) {
      var body = new URLSearchParams();
      body.set("token", token);
      body.set("next", next);
      body.set(root.dataset.csrfField, root.dataset.csrf);
      return fetch(root.dataset.post, { method: "POST", body: body, credentials: "same-origin" });
    })
    .then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) { throw new Error(answer.error || "sobot did not accept the sign-in."); }
        microsoftTeams.app.notifySuccess();
        window.location.assign(answer.next);
      });
    })
    .catch(function (error) {
      var text = error && error.message ? error.message : String(error);
      say("You are not signed in: " + text);
    });
})();
