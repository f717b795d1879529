// xplique_lens Lens: search on the index, hover on the strategic cluster graph. No dependencies.
(function () {
  "use strict";
  var search = document.getElementById("search");
  if (search) {
    search.addEventListener("input", function () {
      var query = search.value.trim().toLowerCase();
      var cards = document.querySelectorAll(".card");
      var shown = 0;
      cards.forEach(function (card) {
        var match = card.getAttribute("data-name").toLowerCase().indexOf(query) !== -1;
        card.style.display = match ? "" : "none";
        if (match) { shown += 1; }
      });
      var count = document.getElementById("count");
      if (count) { count.textContent = shown + " / " + cards.length; }
    });
  }

  var dataNode = document.getElementById("graph-data");
  var graph = document.getElementById("graph");
  if (!dataNode || !graph) { return; }
  var data = JSON.parse(dataNode.textContent);
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 520 420");
  graph.appendChild(svg);
  var tip = document.getElementById("graph-tip");
  var tipImg = document.createElement("img");
  tipImg.alt = "hovered image";
  var tipText = document.createElement("span");
  var xs = data.points.map(function (p) { return p.x; });
  var ys = data.points.map(function (p) { return p.y; });
  var minX = Math.min.apply(null, xs), maxX = Math.max.apply(null, xs);
  var minY = Math.min.apply(null, ys), maxY = Math.max.apply(null, ys);
  function sx(v) { return 20 + 480 * (maxX > minX ? (v - minX) / (maxX - minX) : 0.5); }
  function sy(v) { return 20 + 380 * (maxY > minY ? (v - minY) / (maxY - minY) : 0.5); }
  data.points.forEach(function (p) {
    var c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", sx(p.x));
    c.setAttribute("cy", sy(p.y));
    c.setAttribute("r", 6);
    c.setAttribute("fill", data.colors[p.concept % data.colors.length]);
    c.setAttribute("data-image", p.image);
    c.addEventListener("mouseenter", function () {
      tipImg.src = p.image;
      if (!tipImg.parentNode) { tip.appendChild(tipImg); tip.appendChild(tipText); }
      tipText.textContent = "concept " + p.label;
      tip.style.display = "block";
      tip.style.left = (sx(p.x) + 12) + "px";
      tip.style.top = (sy(p.y) + 12) + "px";
      graph.setAttribute("data-hovered", p.image);
    });
    c.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    svg.appendChild(c);
  });
})();
