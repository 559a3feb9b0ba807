//! What a checkout is sent with: a new address joins the buyer's address book once, and only
//! when the order is placed; a saved one is used as it is; a payment method is one the shop
//! takes, never a guess.

use jinguo_common::db_test;
use jinguo_common::invalid::{Field, Invalid, Problem};
use jinguo_common::testing::TestDb;
use jinguo_order::address::NewAddress;
use jinguo_order::cart::Owner;
use jinguo_order::orders::Filter;
use jinguo_order::payment::PaymentMethod;
use jinguo_order::{AddressChoice, CheckoutRequest, OrderError};
use jinguo_shop::testing::{self, TestShop};

fn to(address: AddressChoice, method: Option<PaymentMethod>) -> CheckoutRequest {
    CheckoutRequest { address, method }
}

/// Another address in 济南市历下区 than [`testing::address`].
fn office() -> NewAddress {
    NewAddress {
        detail: "经十路 9999 号 12 楼".into(),
        ..testing::address()
    }
}

async fn a_new_address_joins_the_address_book_once(db: TestDb) {
    let shop = TestShop::new(db).await;
    let me = shop.buyer().await;
    let other = shop.buyer().await;
    let product = shop.product().stock(10).create(&shop.catalog).await;
    let sku = product.skus[0].id;

    // Nothing placed, nothing kept: an empty cart, an address that is not one.
    let new = |address: NewAddress| to(AddressChoice::New(address), None);
    assert!(matches!(
        shop.orders.checkout(me.id, &new(office())).await,
        Err(OrderError::EmptyCart)
    ));
    shop.orders
        .put_in_cart(Owner::User(me.id), sku, 1, false)
        .await
        .unwrap();
    let no_phone = NewAddress {
        phone: "0531-8888888".into(),
        ..office()
    };
    assert!(matches!(
        shop.orders.checkout(me.id, &new(no_phone)).await,
        Err(OrderError::Invalid(Invalid {
            field: Field::Phone,
            ..
        }))
    ));
    assert_eq!(shop.orders.addresses(me.id).await.unwrap(), vec![]);

    let first = shop.checkout(&me).await.unwrap().placed;
    let book = shop.orders.addresses(me.id).await.unwrap();
    assert_eq!(book.len(), 1, "{book:?}");
    let saved = &book[0];
    let sent = testing::address();
    assert_eq!(
        (
            &saved.recipient,
            &saved.phone,
            &saved.region_code,
            &saved.detail
        ),
        (
            &sent.recipient,
            &sent.phone,
            &sent.region_code,
            &sent.detail
        )
    );
    assert_eq!(saved.region_name, "山东省济南市历下区");

    // The same new address again is the same entry.
    shop.order(&me, &[(sku, 1)]).await;
    assert_eq!(shop.orders.addresses(me.id).await.unwrap(), book);

    // A saved address is used as it is, and not added again.
    shop.orders
        .put_in_cart(Owner::User(me.id), sku, 1, false)
        .await
        .unwrap();
    let placed = shop
        .orders
        .checkout(me.id, &to(AddressChoice::Saved(saved.id), None))
        .await
        .unwrap()
        .placed;
    let order = shop.orders.order(placed.order_id).await.unwrap();
    assert_eq!(
        (
            &order.recipient,
            &order.phone,
            &order.region_code,
            &order.address_detail
        ),
        (
            &saved.recipient,
            &saved.phone,
            &saved.region_code,
            &saved.detail
        )
    );
    assert_eq!(shop.orders.addresses(me.id).await.unwrap(), book);
    assert_ne!(placed.order_id, first.order_id);

    // Someone else's saved address is no address of mine; the cart stays as it was.
    shop.orders
        .put_in_cart(Owner::User(other.id), sku, 1, false)
        .await
        .unwrap();
    let stock = shop.stock(sku).await;
    assert!(matches!(
        shop.orders
            .checkout(other.id, &to(AddressChoice::Saved(saved.id), None))
            .await,
        Err(OrderError::NotFound)
    ));
    assert_eq!(shop.stock(sku).await, stock);
    assert_eq!(shop.orders.addresses(other.id).await.unwrap(), vec![]);

    // A checkout that fails once it has begun (the last unit went to someone else) keeps no
    // address either.
    let last = shop.product().stock(1).create(&shop.catalog).await;
    let last_sku = last.skus[0].id;
    shop.orders
        .put_in_cart(Owner::User(me.id), last_sku, 1, false)
        .await
        .unwrap();
    shop.order(&other, &[(last_sku, 1)]).await;
    assert!(matches!(
        shop.orders.checkout(me.id, &new(office())).await,
        Err(OrderError::OutOfStock { available: 0, .. })
    ));
    assert_eq!(shop.orders.addresses(me.id).await.unwrap(), book);

    shop.orders
        .put_in_cart(Owner::User(me.id), last_sku, 0, true)
        .await
        .unwrap();
    shop.orders
        .put_in_cart(Owner::User(me.id), sku, 1, false)
        .await
        .unwrap();
    shop.orders.checkout(me.id, &new(office())).await.unwrap();
    let book = shop.orders.addresses(me.id).await.unwrap();
    let details: Vec<&str> = book.iter().map(|a| a.detail.as_str()).collect();
    assert_eq!(
        details,
        vec![office().detail.as_str(), sent.detail.as_str()]
    );
}

#[test]
fn an_unknown_payment_method_is_refused_not_guessed() {
    assert_eq!(
        PaymentMethod::from_input(""),
        Ok(None),
        "the shop's default"
    );
    assert_eq!(PaymentMethod::from_input("  "), Ok(None));
    assert_eq!(
        PaymentMethod::from_input(" bank_transfer "),
        Ok(Some(PaymentMethod::BankTransfer))
    );
    assert_eq!(
        PaymentMethod::from_input("stripe"),
        Ok(Some(PaymentMethod::Stripe))
    );
    for text in ["paypal", "Stripe", "bank"] {
        let refused = PaymentMethod::from_input(text).unwrap_err();
        assert_eq!(refused.field, Field::PaymentMethod);
        assert!(
            matches!(&refused.problem, Problem::Unknown { value, .. } if value == text),
            "{text}: {refused:?}"
        );
    }
}

async fn a_method_the_shop_does_not_take_is_refused(db: TestDb) {
    let shop = TestShop::new(db).await;
    assert_eq!(
        shop.orders.payment_methods(),
        vec![PaymentMethod::BankTransfer],
        "no Stripe configured"
    );
    let me = shop.buyer().await;
    let product = shop.product().create(&shop.catalog).await;
    let sku = product.skus[0].id;
    shop.orders
        .put_in_cart(Owner::User(me.id), sku, 1, false)
        .await
        .unwrap();
    let before = shop.stock(sku).await;
    let by = |method| to(AddressChoice::New(testing::address()), Some(method));
    match shop
        .orders
        .checkout(me.id, &by(PaymentMethod::Stripe))
        .await
    {
        Err(OrderError::Invalid(Invalid {
            field: Field::PaymentMethod,
            problem: Problem::NotOffered { value },
        })) => assert_eq!(value, "stripe"),
        other => panic!("expected a method not offered, got {other:?}"),
    }
    assert_eq!(shop.stock(sku).await, before, "nothing taken");
    assert_eq!(
        shop.orders.cart(Owner::User(me.id)).await.unwrap().count,
        1,
        "the cart is kept"
    );
    assert_eq!(shop.orders.addresses(me.id).await.unwrap(), vec![]);
    let mine = Filter {
        buyer: Some(me.id),
        limit: 10,
        ..Filter::default()
    };
    assert!(shop.orders.orders(&mine).await.unwrap().is_empty());

    let placed = shop
        .orders
        .checkout(me.id, &by(PaymentMethod::BankTransfer))
        .await
        .unwrap()
        .placed;
    let order = shop.orders.order(placed.order_id).await.unwrap();
    assert_eq!(order.payment_method, PaymentMethod::BankTransfer);
}

db_test!(
    a_new_address_joins_the_address_book_once,
    a_method_the_shop_does_not_take_is_refused,
);
