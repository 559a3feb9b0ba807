// The Stripe payment page: mounts Stripe's Payment Element (card, Alipay, WeChat Pay, as the
// account offers) for the PaymentIntent whose client secret the page carries, and confirms it.
// Stripe redirects back to the order page; the order is paid when Stripe's webhook arrives.
(function () {
  "use strict";
  var form = document.getElementById("payment-form");
  if (!form || typeof Stripe === "undefined") {
    return;
  }
  var message = document.getElementById("payment-message");
  var button = form.querySelector("button[type=submit]");
  var stripe = Stripe(form.dataset.key, { locale: form.dataset.locale || "auto" });
  var elements = stripe.elements({ clientSecret: form.dataset.secret });
  elements.create("payment").mount("#payment-element");
  form.hidden = false;
  document.getElementById("payment-fallback").hidden = true;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    stripe
      .confirmPayment({ elements: elements, confirmParams: { return_url: form.dataset.return } })
      .then(function (result) {
        // Only reached when the payment could not go ahead; success redirects.
        if (result.error) {
          message.textContent = result.error.message;
        }
        button.disabled = false;
      });
  });
})();
