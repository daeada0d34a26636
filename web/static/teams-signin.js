/* Signs the viewer in with the token Teams gives its tab (TeamsJS), then goes on to the page they asked for.
   On the tab's own page it always runs; on the sign-in page, only when framed (inside Teams), since a browser of
   its own signs in with Microsoft's page instead. */
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
  say("Signing you in with your Teams account…");
  microsoftTeams.app.initialize()
    .then(function () { return microsoftTeams.authentication.getAuthToken(); })
    .then(function (token) {
      var body = new URLSearchParams();
      body.set("token", token);
      body.set("next", root.dataset.next || "/caseload");
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
