from django.urls import path

from enrollment.acme import views

app_name = "acme"

urlpatterns = [
    path("<slug:domain>/directory", views.directory, name="directory"),
    path("<slug:domain>/new-nonce", views.new_nonce, name="new-nonce"),
    path("<slug:domain>/new-account", views.new_account, name="new-account"),
    path("<slug:domain>/acct/<str:ident>", views.account, name="account"),
    path("<slug:domain>/acct/<str:ident>/orders", views.account_orders, name="account-orders"),
    path("<slug:domain>/new-order", views.new_order, name="new-order"),
    path("<slug:domain>/order/<str:ident>", views.order, name="order"),
    path("<slug:domain>/order/<str:ident>/finalize", views.finalize, name="finalize"),
    path("<slug:domain>/authz/<str:ident>", views.authz, name="authz"),
    path("<slug:domain>/chall/<str:ident>", views.challenge, name="challenge"),
    path("<slug:domain>/cert/<str:ident>", views.certificate, name="certificate"),
    path(
        "<slug:domain>/cert/<str:ident>/alt/<int:alternate>",
        views.certificate,
        name="certificate-alternate",
    ),
    path("<slug:domain>/revoke-cert", views.revoke_cert, name="revoke-cert"),
    path("<slug:domain>/key-change", views.key_change, name="key-change"),
    path("<slug:domain>/renewal-info/<str:cert_id>", views.renewal_info, name="renewal-info"),
]
