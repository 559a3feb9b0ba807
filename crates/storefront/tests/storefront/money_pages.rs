//! The money pages, on both databases, with forms alone: a producer's statement, its CSV and
//! payout account; staff running settlement, paying from the bank file and confirming the bank's
//! result; a partial refund from an order's refund page; who may see which page.

use http::{StatusCode, header};
use jinguo_accounts::{Role, UserId};
use jinguo_catalog::SkuId;
use jinguo_common::db_test;
use jinguo_common::ids::ProducerId;
use jinguo_common::money::Fen;
use jinguo_common::testing::TestDb;
use jinguo_order::OrderId;
use jinguo_order::cart::Owner;
use jinguo_order::state::{Action, Actor};
use jinguo_order::{AddressChoice, CheckoutRequest};
use jinguo_settlement::payout::{PayoutDetails, PayoutStatus};
use jinguo_settlement::statement::Month;
use jinguo_settlement::{FeeRate, RefundStatus};

use crate::support::{Browser, PASSWORD, Shop, shop_with, two_producers};

/// A shop that keeps a 5% fee and pays any positive balance.
async fn money_shop(db: TestDb) -> Shop {
    shop_with(db, |s| {
        s.settlement.fee = FeeRate::basis_points(500).unwrap();
        s.settlement.minimum_payout = Fen(1);
    })
    .await
}

async fn register(shop: &Shop, login: &str, role: Role, producer: Option<ProducerId>) -> UserId {
    shop.accounts
        .register(login, PASSWORD, role, producer)
        .await
        .unwrap()
        .id
}

/// An order of one unit of `sku`, paid by the exact bank transfer staff recorded.
async fn paid_order(
    shop: &Shop,
    buyer: UserId,
    staff: UserId,
    sku: SkuId,
) -> jinguo_order::orders::Order {
    let orders = &shop.orders;
    orders
        .put_in_cart(Owner::User(buyer), sku, 1, false)
        .await
        .unwrap();
    let request = CheckoutRequest {
        address: AddressChoice::New(jinguo_shop::testing::address()),
        method: None,
    };
    let id: OrderId = orders
        .checkout(buyer, &request)
        .await
        .unwrap()
        .placed
        .order_id;
    let order = orders.order(id).await.unwrap();
    let today = shop.state.today().to_string();
    orders
        .record_transfer(staff, &order.payment_reference, order.total, &today)
        .await
        .unwrap();
    orders.order(id).await.unwrap()
}

/// Shipped, received, and completed once the return window has passed: its money is released.
async fn complete(shop: &Shop, order: &jinguo_order::orders::Order) {
    let orders = &shop.orders;
    let part = &order.parts[0];
    let ship = Action::Ship {
        part: part.id,
        carrier: "中国邮政".into(),
        tracking_no: "EMS0001".into(),
    };
    orders
        .act(order.id, ship, Actor::Producer(part.producer_id))
        .await
        .unwrap();
    orders
        .act(
            order.id,
            Action::Deliver { part: part.id },
            Actor::Buyer(order.buyer_id),
        )
        .await
        .unwrap();
    let window = shop.orders.settings().windows().return_ms;
    shop.advance(window + 1);
    orders
        .act(order.id, Action::Complete { part: part.id }, Actor::System)
        .await
        .unwrap();
}

fn bank(account_no: &str) -> PayoutDetails {
    PayoutDetails::Bank {
        account_name: "城口县巾帼合作社".into(),
        account_no: account_no.into(),
        bank_name: "重庆农村商业银行城口支行".into(),
    }
}

async fn a_producer_reads_its_statement_downloads_it_and_sets_its_payout_account(db: TestDb) {
    let shop = money_shop(db).await;
    let [(sku, producer), _] = two_producers(&shop).await;
    let staff = register(&shop, "fed@example.cn", Role::Staff, None).await;
    let buyer = register(&shop, "gina@example.cn", Role::Consumer, None).await;
    register(&shop, "maker@example.cn", Role::Producer, Some(producer)).await;
    let order = paid_order(&shop, buyer, staff, sku).await;
    complete(&shop, &order).await;
    let part = &order.parts[0];
    let gross = part.total();
    let fee = Fen(gross.0 * 500 / 10_000);
    let net = Fen(gross.0 - fee.0);

    let mut maker = Browser::new(&shop);
    maker.sign_in("maker@example.cn").await;
    let page = maker.get("/producer/money").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains("href=\"/producer/money\""),
        "the producer's links lead here"
    );
    assert!(
        html.contains(&format!("href=\"/orders/{}\"", order.id)),
        "the sale links to its order"
    );
    assert!(html.contains(&order.number), "the sale names its order");
    assert!(html.contains("销售"), "the line says it is a sale");
    for amount in [gross, fee, net] {
        assert!(
            html.contains(&amount.to_string()),
            "{amount} is shown: {html}"
        );
    }
    // What the page shows is the ledger's statement: opening + lines = closing, to the fen.
    let month = Month::of(shop.clock.now_ms());
    let statement = shop.settlement.statement(producer, month).await.unwrap();
    let sale = statement
        .lines
        .iter()
        .find(|l| l.order_id == Some(order.id))
        .unwrap();
    assert_eq!(
        (sale.gross, sale.fee, sale.amount),
        (Some(gross), Some(fee), net)
    );
    let moved: i64 = statement.lines.iter().map(|l| l.amount.0).sum();
    assert_eq!(statement.opening.0 + moved, statement.closing.0);
    assert!(
        html.contains(&statement.opening.to_string())
            && html.contains(&statement.closing.to_string())
    );
    assert_eq!(
        shop.settlement.payable(producer).await.unwrap(),
        net,
        "owed now"
    );
    assert!(
        html.contains("还没有收款账户"),
        "it is told it has no payout account yet"
    );

    // The month before has nothing in it; a month that is not one is said so.
    let before = maker
        .get(&format!("/producer/money?month={}", month.previous()))
        .await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(!before.text().contains(&order.number));
    assert!(
        before
            .text()
            .contains(&format!("/producer/money?month={month}")),
        "a link to the next month"
    );
    let bad_month = maker.get("/producer/money?month=2026-13").await;
    assert_eq!(bad_month.status, StatusCode::BAD_REQUEST);
    assert!(bad_month.text().contains("role=\"alert\"") && bad_month.text().contains("2026-13"));

    // The CSV has its header and the sale.
    let csv = maker
        .get(&format!("/producer/money/statement.csv?month={month}"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header(header::CONTENT_TYPE).starts_with("text/csv"));
    assert!(
        csv.header(header::CONTENT_DISPOSITION)
            .contains(&format!("jinguo-statement-{month}.csv"))
    );
    let text = csv.text();
    assert!(
        text.trim_start_matches('\u{feff}')
            .starts_with("date,kind,order,payout,gross_yuan,fee_yuan"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(",release,"))
        .expect("a sale line");
    assert!(
        line.contains(&order.number)
            && line.contains(&gross.yuan_string())
            && line.contains(&net.yuan_string()),
        "{line}"
    );

    // A wrong account number is named in the form and nothing is saved.
    let bad = maker
        .post(
            "/producer/money/details",
            &[
                ("method", "bank"),
                ("account_name", "城口县巾帼合作社"),
                ("account_no", "12ab"),
                ("bank_name", "重庆农商行城口支行"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let html = bad.text();
    assert!(
        html.contains("role=\"alert\"") && html.contains("12ab") && html.contains("账号"),
        "{html}"
    );
    assert!(
        html.contains("value=\"城口县巾帼合作社\""),
        "the form keeps what was typed"
    );
    assert_eq!(
        shop.settlement.payout_details(producer).await.unwrap(),
        None
    );
    let no_token = maker
        .post_raw(
            "/producer/money/details",
            &[
                ("method", "bank"),
                ("account_name", "X"),
                ("account_no", "6222020200001234567"),
                ("bank_name", "Y"),
            ],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert_eq!(
        shop.settlement.payout_details(producer).await.unwrap(),
        None
    );

    let saved = maker
        .post(
            "/producer/money/details",
            &[
                ("method", "bank"),
                ("account_name", "城口县巾帼合作社"),
                ("account_no", "6222 0202 0000 1234 567"),
                ("bank_name", "重庆农村商业银行城口支行"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let after = maker.get(&saved.location()).await.text();
    assert!(after.contains("收款账户已保存") && after.contains("6222020200001234567"));
    assert_eq!(
        shop.settlement.payout_details(producer).await.unwrap(),
        Some(bank("6222020200001234567"))
    );

    // A buyer has no money pages.
    let mut gina = Browser::new(&shop);
    gina.sign_in("gina@example.cn").await;
    assert_eq!(
        gina.get("/producer/money").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        gina.get("/producer/money/statement.csv").await.status,
        StatusCode::FORBIDDEN
    );
}
db_test!(a_producer_reads_its_statement_downloads_it_and_sets_its_payout_account);

async fn staff_settle_pay_from_the_bank_file_and_confirm_the_banks_result(db: TestDb) {
    let shop = money_shop(db).await;
    let [(sku_a, producer_a), (sku_b, producer_b)] = two_producers(&shop).await;
    let staff = register(&shop, "fed@example.cn", Role::Staff, None).await;
    let buyer = register(&shop, "gina@example.cn", Role::Consumer, None).await;
    register(&shop, "maker@example.cn", Role::Producer, Some(producer_a)).await;
    for sku in [sku_a, sku_b] {
        let order = paid_order(&shop, buyer, staff, sku).await;
        complete(&shop, &order).await;
    }
    // Only the first producer has said where to pay it, so far.
    shop.settlement
        .set_payout_details(producer_a, bank("6222020200001111111"))
        .await
        .unwrap();
    let owed_a = shop.settlement.payable(producer_a).await.unwrap();
    assert!(owed_a.0 > 0);

    // Nobody but staff.
    let mut anonymous = Browser::new(&shop);
    assert_eq!(
        anonymous.get("/staff/money").await.status,
        StatusCode::SEE_OTHER,
        "sent to sign in"
    );
    for login in ["gina@example.cn", "maker@example.cn"] {
        let mut other = Browser::new(&shop);
        other.sign_in(login).await;
        for path in [
            "/staff/money",
            "/staff/reconciliation",
            "/staff/money/batches/1/bank-file.csv",
        ] {
            assert_eq!(
                other.get(path).await.status,
                StatusCode::FORBIDDEN,
                "{login} {path}"
            );
        }
        let settle = other.post("/staff/money/settle", &[]).await;
        assert_eq!(settle.status, StatusCode::FORBIDDEN);
    }

    let mut fed = Browser::new(&shop);
    fed.sign_in("fed@example.cn").await;
    let page = fed.get("/staff/money").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(
        page.text().contains("账本平衡"),
        "the ledger check is shown"
    );
    assert!(
        page.text().contains("href=\"/staff/money\""),
        "the staff links lead here"
    );
    let no_token = fed.post_raw("/staff/money/settle", &[]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(
        shop.settlement
            .payouts(None, None)
            .await
            .unwrap()
            .is_empty(),
        "nothing was run"
    );

    // Run settlement: a batch with the first producer's payout; the other is named, and why.
    let run = fed.post("/staff/money/settle", &[]).await;
    assert_eq!(run.status, StatusCode::SEE_OTHER, "{}", run.text());
    let payouts = shop.settlement.payouts(None, None).await.unwrap();
    assert_eq!(payouts.len(), 1);
    let pa = payouts[0].clone();
    let batch = pa.batch_id;
    assert_eq!((pa.producer_id, pa.amount), (producer_a, owed_a));
    let after = fed.get(&run.location()).await.text();
    assert!(
        after.contains(&format!("已生成打款批次 {batch}，共 1 笔打款")),
        "{after}"
    );
    let name_b = shop.catalog.producer_names(&[producer_b]).await.unwrap()[&producer_b]
        .name
        .clone();
    assert!(
        after.contains(&format!("{name_b}</strong> — 没有填写收款账户")),
        "{after}"
    );

    // Once it has, the next run pays it in a batch of its own.
    shop.settlement
        .set_payout_details(producer_b, bank("6222020200002222222"))
        .await
        .unwrap();
    let run = fed.post("/staff/money/settle", &[]).await;
    let pb = shop
        .settlement
        .payouts(Some(producer_b), None)
        .await
        .unwrap()[0]
        .clone();
    assert_ne!(pb.batch_id, batch);
    let after = fed.get(&run.location()).await.text();
    assert!(
        after.contains(&format!("已生成打款批次 {}，共 1 笔打款", pb.batch_id)),
        "{after}"
    );
    assert!(after.contains(&format!("JGP{}", pa.id)) && after.contains(&owed_a.to_string()));
    let file_url = format!("/staff/money/batches/{batch}/bank-file.csv");
    assert!(after.contains(&file_url), "a link to the bank file");

    let file = fed.get(&file_url).await;
    assert_eq!(file.status, StatusCode::OK);
    assert!(file.header(header::CONTENT_TYPE).starts_with("text/csv"));
    let csv = file.text();
    assert!(
        csv.contains("6222020200001111111") && csv.contains(&owed_a.yuan_string()),
        "{csv}"
    );
    assert!(
        !csv.contains("6222020200002222222"),
        "only this batch's payouts: {csv}"
    );

    // Pay one by hand; it shows as paid with the bank's reference.
    let paid = fed
        .post(
            &format!("/staff/money/payouts/{}/paid", pa.id),
            &[("reference", "B20261207001")],
        )
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text());
    let after = fed.get(&paid.location()).await.text();
    assert!(after.contains("B20261207001") && after.contains("已打款"));
    let pa_now = shop
        .settlement
        .payouts(Some(producer_a), None)
        .await
        .unwrap();
    assert_eq!(pa_now[0].status, PayoutStatus::Sent);

    // The bank's result with a bad line: the line is named and nothing is applied.
    let lines = format!("JGP{},B20261207002\nJGP{},B20261207003", pb.id, pa.id);
    let refused = fed.post("/staff/money/confirm", &[("lines", &lines)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let html = refused.text();
    assert!(
        html.contains("role=\"alert\"") && html.contains("第 2 行"),
        "{html}"
    );
    assert!(html.contains("B20261207002"), "the text typed is kept");
    let pb_now = shop
        .settlement
        .payouts(Some(producer_b), None)
        .await
        .unwrap();
    assert_eq!(
        pb_now[0].status,
        PayoutStatus::Pending,
        "the good line was not applied either"
    );
    let confirmed = fed
        .post(
            "/staff/money/confirm",
            &[("lines", &format!("JGP{},B20261207002", pb.id))],
        )
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.text()
    );
    assert!(
        fed.get(&confirmed.location())
            .await
            .text()
            .contains("已按回单登记 1 笔打款")
    );
    let pb_now = shop
        .settlement
        .payouts(Some(producer_b), None)
        .await
        .unwrap();
    assert_eq!(pb_now[0].status, PayoutStatus::Sent);

    // Nothing more is owed; the ledger still balances; reconciliation finds nothing wrong.
    let again = fed.post("/staff/money/settle", &[]).await;
    assert!(
        fed.get(&again.location())
            .await
            .text()
            .contains("本次没有需要打款的生产者")
    );
    assert!(fed.get("/staff/money").await.text().contains("账本平衡"));
    let reconciled = fed.get("/staff/reconciliation").await;
    assert_eq!(reconciled.status, StatusCode::OK, "{}", reconciled.text());
    assert!(
        reconciled.text().contains("没有配置 Stripe")
            && reconciled.text().contains("没有不相符的记录"),
        "{}",
        reconciled.text()
    );

    // In English too.
    fed.cookies.insert("lang".into(), "en".into());
    let english = fed.get("/staff/money").await.text();
    assert!(
        english.contains("The ledger balances: ") && english.contains("Run settlement"),
        "{english}"
    );

    // The producer sees its payout, paid.
    let mut maker = Browser::new(&shop);
    maker.sign_in("maker@example.cn").await;
    let mine = maker.get("/producer/money").await.text();
    assert!(mine.contains("B20261207001") && mine.contains("已打款"));
}
db_test!(staff_settle_pay_from_the_bank_file_and_confirm_the_banks_result);

async fn staff_refund_part_of_an_order_and_record_it_paid_back(db: TestDb) {
    let shop = money_shop(db).await;
    let [(sku, producer), _] = two_producers(&shop).await;
    let staff = register(&shop, "fed@example.cn", Role::Staff, None).await;
    let buyer = register(&shop, "gina@example.cn", Role::Consumer, None).await;
    register(&shop, "maker@example.cn", Role::Producer, Some(producer)).await;
    let order = paid_order(&shop, buyer, staff, sku).await;
    let part = &order.parts[0];
    let part_total = part.total();
    let url = format!("/staff/orders/{}/refund", order.id);

    for login in ["gina@example.cn", "maker@example.cn"] {
        let mut other = Browser::new(&shop);
        other.sign_in(login).await;
        assert_eq!(
            other.get(&url).await.status,
            StatusCode::FORBIDDEN,
            "{login}"
        );
        let post = other
            .post(
                &url,
                &[
                    ("part", &part.id.to_string()),
                    ("amount", "1"),
                    ("reason", "x"),
                ],
            )
            .await;
        assert_eq!(post.status, StatusCode::FORBIDDEN, "{login}");
    }

    let mut fed = Browser::new(&shop);
    fed.sign_in("fed@example.cn").await;
    // From the settlement page by order number.
    let found = fed
        .get(&format!("/staff/money/refund?number={}", order.number))
        .await;
    assert_eq!(found.status, StatusCode::SEE_OTHER);
    assert_eq!(found.location(), url);
    let missing = fed.get("/staff/money/refund?number=NOPE").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("NOPE"));

    let page = fed.get(&url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains(&order.number) && page.text().contains(&part_total.to_string()));

    // More than the part holds is refused in the form; nothing is written.
    let too_much = Fen(part_total.0 + 100);
    let refused = fed
        .post(
            &url,
            &[
                ("part", &part.id.to_string()),
                ("amount", &too_much.yuan_string()),
                ("reason", "破损"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let html = refused.text();
    assert!(
        html.contains("role=\"alert\"") && html.contains(&format!("最多还可退 {part_total}")),
        "{html}"
    );
    assert!(html.contains("破损"), "the form keeps the reason");
    assert!(
        shop.settlement
            .refunds(Some(order.id))
            .await
            .unwrap()
            .is_empty()
    );
    let no_token = fed
        .post_raw(
            &url,
            &[
                ("part", &part.id.to_string()),
                ("amount", "5"),
                ("reason", "破损"),
            ],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(
        shop.settlement
            .refunds(Some(order.id))
            .await
            .unwrap()
            .is_empty()
    );

    let done = fed
        .post(
            &url,
            &[
                ("part", &part.id.to_string()),
                ("amount", "5.00"),
                ("reason", "一盒破损"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let shown = fed.get(&done.location()).await.text();
    assert!(
        shown.contains("已登记退款 ¥5.00") && shown.contains("一盒破损"),
        "{shown}"
    );
    let refunds = shop.settlement.refunds(Some(order.id)).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (refunds[0].amount, refunds[0].status),
        (Fen(500), RefundStatus::Pending)
    );

    // Owed to the buyer until staff record the transfer back.
    let money = fed.get("/staff/money").await.text();
    assert!(
        money.contains(&format!("/staff/money/refunds/{}/paid", refunds[0].id)),
        "{money}"
    );
    let paid = fed
        .post(
            &format!("/staff/money/refunds/{}/paid", refunds[0].id),
            &[("reference", "R20261129001")],
        )
        .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text());
    let refunds = shop.settlement.refunds(Some(order.id)).await.unwrap();
    assert_eq!(
        (refunds[0].status, refunds[0].provider_ref.as_deref()),
        (RefundStatus::Done, Some("R20261129001"))
    );
    assert!(
        fed.get("/staff/money")
            .await
            .text()
            .contains("没有待退的款项")
    );
    assert!(shop.settlement.check_ledger().await.unwrap().is_ok());
}
db_test!(staff_refund_part_of_an_order_and_record_it_paid_back);
