"""Words for explaining a failed /track or /move, in English and Russian.

``ERRORS_EN`` and ``ERRORS_RU`` have the same keys and, per key, the same ``str.format``
placeholders (a test keeps them in step). ``handlers.explain`` picks the keys; nothing here
decides anything. Every text is plain (no HTML or Markdown) and short enough for a phone.

Placeholders: ``{order}`` is an order reference already in words ("order 123" / "заказ 123", in
the Russian nominative case), ``{campaign}`` the same for the shop's campaign, ``{state}`` the
order's status (and substatus) in words, ``{allowed}`` the statuses that allow the action,
``{limit}`` Market's limit, ``{time}`` a local HH:MM, ``{status}`` an HTTP status,
``{message}`` Market's own words, verbatim.

``STATUS_*`` and ``SUBSTATUS_*`` give order statuses and substatuses in words, phrased to follow
"Order 123 is …" / "Заказ 123 …"; substatus words go in brackets after the status words.
"""

from __future__ import annotations

ERRORS_EN: dict[str, str] = {
    # The last line of every answer: Market's own words, or why there are none.
    "market_said": "Market said: {message}",
    "no_reply_transport": "There is no reply from Market to quote.",
    "no_reply_budget": "Market was not asked, so there is no reply from it to quote.",
    "no_reply_other": "There is no reply from Market to quote.",
    # References used inside the texts below.
    "order_ref": "order {order_id}",
    "order_ref_unknown": "the order",
    "campaign_ref": "the shop's campaign {campaign_id}",
    "campaign_ref_unknown": "the shop's campaign",
    "list_or": "{head} or {last}",
    # 400: the order's status does not allow the action.
    "state_conflict_track": (
        "{order} is {state}, so the track number can't be set. "
        "It can be set only while the order is {allowed}."
    ),
    "state_conflict_move": (
        "{order} is {state}, so the delivery date can't be changed. "
        "It can be changed only while the order is {allowed}."
    ),
    "state_stage_track": (
        "{order} is {state}: Market doesn't take a track number at this stage. "
        "Try again when the order moves on."
    ),
    "state_stage_move": (
        "{order} is {state}: Market doesn't allow changing the delivery date at this stage. "
        "Try again when the order moves on."
    ),
    "state_unknown_track": (
        "Market doesn't allow setting the track number for {order} in its current status. "
        "It can be set only while the order is {allowed}."
    ),
    "state_unknown_move": (
        "Market doesn't allow changing the delivery date of {order} in its current status. "
        "It can be changed only while the order is {allowed}."
    ),
    # 400 from setOrderDeliveryDate.
    "date_days_limit": (
        "{order}: the new delivery date is too far ahead. Market allows moving the date "
        "at most {limit} days ahead; pick an earlier date."
    ),
    "date_days_limit_unknown": (
        "{order}: the new delivery date is too far ahead for Market; pick an earlier date."
    ),
    "date_edits_limit": (
        "{order}: the delivery date has already been changed the maximum number of times "
        "({limit}). Market won't allow another change; contact Market support."
    ),
    "date_edits_limit_unknown": (
        "{order}: the delivery date has already been changed the maximum number of times. "
        "Market won't allow another change; contact Market support."
    ),
    "date_same": "{order} already has this delivery date; nothing to change.",
    # Other 4xx the request itself is to blame for.
    "bad_request_track": (
        "Market rejected the request as malformed. Check the command's values: "
        "the order number, the track number and the delivery service id."
    ),
    "bad_request_move": (
        "Market rejected the request as malformed. Check the command's values: "
        "the order number, the new date (YYYY-MM-DD) and the reason."
    ),
    "bad_request_campaign_type": (
        "The shop's campaign is not a DBS campaign (delivery by the seller), and Market allows "
        "this only for DBS. The shop's owner should /connect the shop's DBS campaign."
    ),
    # 404.
    "not_found_order": (
        "Market can't find {order} in this shop. Check the number: maybe it is another shop's "
        "order?"
    ),
    "not_found_campaign": (
        "{campaign} is not found at Market: the campaign number saved for this shop is wrong "
        "or the shop was removed. The shop's owner should /connect again."
    ),
    "not_found_other": (
        "Market can't find {order} or the shop's campaign. Check the order number; if it is "
        "right, the shop's owner should /connect again."
    ),
    # 401.
    "unauthorized_revoked": (
        "The shop's API key has been revoked. The shop's owner should create a new key in the "
        "seller cabinet (Settings → API and modules) and /connect again."
    ),
    "unauthorized_missing": (
        "Market got no API key for this shop. The shop's owner should /connect again."
    ),
    "unauthorized_invalid": (
        "Market doesn't accept the shop's API key: it is invalid. The shop's owner should "
        "create a new key in the seller cabinet (Settings → API and modules) and /connect again."
    ),
    # 403.
    "forbidden_scope": (
        'The shop\'s API key has no "Order processing and inventory" access '
        "(inventory-and-order-processing). The shop's owner should create a key with this "
        "access in the seller cabinet and /connect again."
    ),
    "forbidden_credentials": (
        "Market doesn't accept the shop's credentials (an old OAuth token?). The shop's owner "
        "should create an API key in the seller cabinet and /connect again."
    ),
    "forbidden_inactive": (
        "Market switched off the API for this shop because it was not used for a long time. "
        "The owner can switch it back on in the seller cabinet, then try again."
    ),
    "forbidden_manual": (
        "The API for this shop was switched off by hand. The owner can switch it back on in "
        "the seller cabinet, then try again."
    ),
    "forbidden_contracts": (
        "Market switched off the API for this shop: it has no active contracts with Market. "
        "The owner should sort out the contract in the seller cabinet."
    ),
    "forbidden_placement": (
        "Market switched off the API for this shop: it has no placement program. The owner "
        "should set up the shop's placement in the seller cabinet."
    ),
    "forbidden_business": (
        "Market switched off the API for the whole business: all its shops are disabled. "
        "The owner should fix this in the seller cabinet."
    ),
    "forbidden_denied": (
        "The shop's API key doesn't give access to this shop. The shop's owner should "
        "/connect again with a key of the business this shop belongs to."
    ),
    "forbidden_deprecated": (
        "Market refused because it considers this method deprecated. The bot needs an update: "
        "please tell the bot's administrator."
    ),
    "forbidden_account_disabled": (
        "The Yandex account behind the shop's API key is disabled. The shop's owner should "
        "/connect again with a key from an active account."
    ),
    "forbidden_go": (
        "Market doesn't allow this through the API for Market Yandex Go sellers. "
        "Do it in the seller cabinet instead."
    ),
    "forbidden_other": (
        "Market denied access to this shop. The shop's owner should check the API key's "
        "access in the seller cabinet and /connect again."
    ),
    # Transient failures while the command is still being retried: "{why} {next}".
    "busy_parallel": "Market is busy right now: too many requests to this shop at once.",
    "busy_hourly": "Market's hourly request limit for this shop is used up.",
    "busy": "Market is busy right now and asked to wait.",
    "failing": "Market is failing right now (HTTP {status}).",
    "timeout": "Market did not answer in time.",
    "network": "Market can't be reached right now (network error).",
    "budget": "The bot has used up its hourly request budget for this shop.",
    "retry_at": "The command is saved and will be retried automatically at {time}.",
    "retry_soon": "The command is saved and will be retried automatically shortly.",
    # Transient failures that lasted until the command's deadline.
    "gave_up_busy": (
        "Market kept refusing (too many requests) until the deadline, so the change was NOT "
        "made. Try again later."
    ),
    "gave_up_failing": (
        "Market kept failing until the deadline, so the change was NOT made. Try again later."
    ),
    "gave_up_timeout": (
        "Market kept not answering in time until the deadline, so the change was NOT made. "
        "Try again later."
    ),
    "gave_up_network": (
        "Market stayed unreachable until the deadline, so the change was NOT made. Try again later."
    ),
    "gave_up_budget": (
        "The bot's hourly request budget for this shop stayed used up until the deadline, "
        "so the change was NOT made. Try again later."
    ),
    # Anything else.
    "other_api": (
        "Market refused (HTTP {status}); the change was not made. Check the command and try "
        "again; if it happens again, tell the shop's owner."
    ),
    "unexpected": (
        "Something went wrong while talking to Market; the change was not made. Try again later."
    ),
}

ERRORS_RU: dict[str, str] = {
    "market_said": "Ответ Маркета: {message}",
    "no_reply_transport": "Ответа Маркета нет: он не ответил.",
    "no_reply_budget": "К Маркету не обращались, поэтому его ответа нет.",
    "no_reply_other": "Ответа Маркета нет.",
    "order_ref": "заказ {order_id}",
    "order_ref_unknown": "этот заказ",
    "campaign_ref": "кампания магазина {campaign_id}",
    "campaign_ref_unknown": "кампания магазина",
    "list_or": "{head} или {last}",
    "state_conflict_track": (
        "{order} {state}, поэтому трек-номер указать нельзя. "
        "Его можно указать, только пока заказ {allowed}."
    ),
    "state_conflict_move": (
        "{order} {state}, поэтому дату доставки перенести нельзя. "
        "Её можно перенести, только пока заказ {allowed}."
    ),
    "state_stage_track": (
        "{order} {state}: на этом этапе Маркет не принимает трек-номер. "
        "Попробуйте снова, когда заказ перейдёт на следующий этап."
    ),
    "state_stage_move": (
        "{order} {state}: на этом этапе Маркет не разрешает переносить дату доставки. "
        "Попробуйте снова, когда заказ перейдёт на следующий этап."
    ),
    "state_unknown_track": (
        "Маркет не разрешает указать трек-номер: {order} в неподходящем статусе. "
        "Трек-номер можно указать, только пока заказ {allowed}."
    ),
    "state_unknown_move": (
        "Маркет не разрешает перенести дату доставки: {order} в неподходящем статусе. "
        "Дату можно перенести, только пока заказ {allowed}."
    ),
    "date_days_limit": (
        "{order}: новая дата доставки слишком далеко. Маркет разрешает переносить дату "
        "не дальше чем на {limit} дн. вперёд — выберите дату пораньше."
    ),
    "date_days_limit_unknown": (
        "{order}: новая дата доставки слишком далеко для Маркета — выберите дату пораньше."
    ),
    "date_edits_limit": (
        "{order}: дату доставки уже переносили максимальное число раз ({limit}). "
        "Маркет не даст перенести её снова — обратитесь в поддержку Маркета."
    ),
    "date_edits_limit_unknown": (
        "{order}: дату доставки уже переносили максимальное число раз. "
        "Маркет не даст перенести её снова — обратитесь в поддержку Маркета."
    ),
    "date_same": "{order}: эта дата доставки уже стоит, менять нечего.",
    "bad_request_track": (
        "Маркет отклонил запрос как некорректный. Проверьте значения в команде: "
        "номер заказа, трек-номер и номер службы доставки."
    ),
    "bad_request_move": (
        "Маркет отклонил запрос как некорректный. Проверьте значения в команде: "
        "номер заказа, новую дату (ГГГГ-ММ-ДД) и причину."
    ),
    "bad_request_campaign_type": (
        "Кампания магазина не DBS (доставка силами продавца), а Маркет разрешает это "
        "только для DBS. Владельцу магазина нужно выполнить /connect с DBS-кампанией магазина."
    ),
    "not_found_order": (
        "Маркет не нашёл {order} в этом магазине. Проверьте номер: может быть, это заказ "
        "другого магазина?"
    ),
    "not_found_campaign": (
        "{campaign} не найдена в Маркете: сохранённый номер кампании неверен или магазин "
        "удалён. Владельцу магазина нужно заново выполнить /connect."
    ),
    "not_found_other": (
        "Маркет не нашёл {order} или кампанию магазина. Проверьте номер заказа; если он "
        "верный, владельцу магазина нужно заново выполнить /connect."
    ),
    "unauthorized_revoked": (
        "API-ключ магазина отозван. Владельцу магазина нужно создать новый ключ в кабинете "
        "продавца (Настройки → API и модули) и заново выполнить /connect."
    ),
    "unauthorized_missing": (
        "Маркет не получил API-ключ этого магазина. Владельцу магазина нужно заново "
        "выполнить /connect."
    ),
    "unauthorized_invalid": (
        "Маркет не принимает API-ключ магазина: ключ недействителен. Владельцу магазина нужно "
        "создать новый ключ в кабинете продавца (Настройки → API и модули) и заново "
        "выполнить /connect."
    ),
    "forbidden_scope": (
        "У API-ключа магазина нет доступа «Обработка заказов и учёт товаров» "
        "(inventory-and-order-processing). Владельцу магазина нужно создать ключ с этим "
        "доступом в кабинете продавца и заново выполнить /connect."
    ),
    "forbidden_credentials": (
        "Маркет не принимает учётные данные магазина (старый OAuth-токен?). Владельцу "
        "магазина нужно создать API-ключ в кабинете продавца и заново выполнить /connect."
    ),
    "forbidden_inactive": (
        "Маркет отключил API для этого магазина, потому что им долго не пользовались. "
        "Владелец может снова включить его в кабинете продавца, затем повторите команду."
    ),
    "forbidden_manual": (
        "API для этого магазина отключено вручную. Владелец может снова включить его "
        "в кабинете продавца, затем повторите команду."
    ),
    "forbidden_contracts": (
        "Маркет отключил API для этого магазина: у него нет действующих договоров с Маркетом. "
        "Владельцу нужно решить вопрос с договором в кабинете продавца."
    ),
    "forbidden_placement": (
        "Маркет отключил API для этого магазина: у него нет программы размещения. "
        "Владельцу нужно настроить размещение магазина в кабинете продавца."
    ),
    "forbidden_business": (
        "Маркет отключил API для всего бизнеса: все его магазины отключены. "
        "Владельцу нужно исправить это в кабинете продавца."
    ),
    "forbidden_denied": (
        "API-ключ магазина не даёт доступа к этому магазину. Владельцу магазина нужно заново "
        "выполнить /connect с ключом того бизнеса, к которому относится магазин."
    ),
    "forbidden_deprecated": (
        "Маркет отказал, потому что считает этот метод устаревшим. Бот нужно обновить: "
        "сообщите администратору бота."
    ),
    "forbidden_account_disabled": (
        "Аккаунт Яндекса, которому принадлежит API-ключ магазина, отключён. Владельцу "
        "магазина нужно заново выполнить /connect с ключом действующего аккаунта."
    ),
    "forbidden_go": (
        "Для продавцов Market Yandex Go Маркет не разрешает это через API. "
        "Сделайте это в кабинете продавца."
    ),
    "forbidden_other": (
        "Маркет запретил доступ к этому магазину. Владельцу магазина нужно проверить доступы "
        "API-ключа в кабинете продавца и заново выполнить /connect."
    ),
    "busy_parallel": (
        "Маркет сейчас перегружен: слишком много одновременных запросов к этому магазину."
    ),
    "busy_hourly": "Часовой лимит запросов к Маркету для этого магазина исчерпан.",
    "busy": "Маркет сейчас занят и просит подождать.",
    "failing": "У Маркета сейчас сбой (HTTP {status}).",
    "timeout": "Маркет не ответил вовремя.",
    "network": "Маркет сейчас недоступен (ошибка сети).",
    "budget": "Бот исчерпал свой часовой лимит запросов для этого магазина.",
    "retry_at": "Команда сохранена и будет автоматически повторена в {time}.",
    "retry_soon": "Команда сохранена и скоро будет автоматически повторена.",
    "gave_up_busy": (
        "Маркет отказывал (слишком много запросов) до самого крайнего срока, поэтому "
        "изменение НЕ сделано. Попробуйте позже."
    ),
    "gave_up_failing": (
        "У Маркета был сбой до самого крайнего срока, поэтому изменение НЕ сделано. "
        "Попробуйте позже."
    ),
    "gave_up_timeout": (
        "Маркет не отвечал вовремя до самого крайнего срока, поэтому изменение НЕ сделано. "
        "Попробуйте позже."
    ),
    "gave_up_network": (
        "Маркет был недоступен до самого крайнего срока, поэтому изменение НЕ сделано. "
        "Попробуйте позже."
    ),
    "gave_up_budget": (
        "Часовой лимит запросов бота для этого магазина был исчерпан до самого крайнего "
        "срока, поэтому изменение НЕ сделано. Попробуйте позже."
    ),
    "other_api": (
        "Маркет отказал (HTTP {status}), изменение не сделано. Проверьте команду и попробуйте "
        "снова; если повторится, сообщите владельцу магазина."
    ),
    "unexpected": (
        "Что-то пошло не так при обращении к Маркету, изменение не сделано. Попробуйте позже."
    ),
}

# Order statuses (getBusinessOrders ``orders[].status``), to follow "Order 123 is …".
STATUS_EN: dict[str, str] = {
    "PLACING": "still being placed",
    "RESERVED": "reserved but not placed yet",
    "UNPAID": "not paid yet",
    "PROCESSING": "being processed",
    "DELIVERY": "handed to delivery",
    "PICKUP": "at a pickup point",
    "DELIVERED": "already received by the buyer",
    "CANCELLED": "cancelled",
    "PENDING": "waiting for the seller to confirm it",
    "PARTIALLY_RETURNED": "partly returned",
    "RETURNED": "returned",
    "UNKNOWN": "in an unknown status",
}

STATUS_RU: dict[str, str] = {
    "PLACING": "ещё оформляется",
    "RESERVED": "зарезервирован, но не оформлен",
    "UNPAID": "ещё не оплачен",
    "PROCESSING": "в обработке",
    "DELIVERY": "передан в доставку",
    "PICKUP": "в пункте выдачи",
    "DELIVERED": "уже получен покупателем",
    "CANCELLED": "отменён",
    "PENDING": "ждёт подтверждения продавца",
    "PARTIALLY_RETURNED": "частично возвращён",
    "RETURNED": "возвращён",
    "UNKNOWN": "в неизвестном статусе",
}

# Substatuses: the stage of a PROCESSING order, the reason of a CANCELLED one, and the common
# stages of the other statuses.
SUBSTATUS_EN: dict[str, str] = {
    # PROCESSING and before it
    "STARTED": "confirmed, processing can start",
    "PACKAGING": "being packed",
    "READY_TO_SHIP": "packed and ready to ship",
    "SHIPPED": "shipped to the delivery service",
    "AWAIT_CONFIRMATION": "waiting for confirmation",
    "PREORDER": "a pre-order",
    "WAITING_FOR_STOCKS": "waiting for stock",
    "ASYNC_PROCESSING": "being checked by Market",
    "AS_PART_OF_MULTI_ORDER": "part of a multi-order",
    "AWAIT_DELIVERY_DATES_CONFIRMATION": "waiting for the delivery dates to be confirmed",
    "AWAIT_DELIVERY_DATES": "waiting for delivery dates",
    "AWAIT_PAYMENT": "waiting for payment",
    "ANTIFRAUD": "being checked by Market's anti-fraud",
    "WAITING_USER_INPUT": "waiting for the buyer",
    "WAITING_BANK_DECISION": "waiting for the bank's decision",
    "DEFERRED_PAYMENT": "deferred payment",
    # DELIVERY, PICKUP, DELIVERED
    "DELIVERY_SERVICE_RECEIVED": "the delivery service has received it",
    "READY_FOR_LAST_MILE": "ready for delivery to the buyer",
    "LAST_MILE_STARTED": "on its way to the buyer",
    "COURIER_SEARCH": "looking for a courier",
    "COURIER_FOUND": "a courier is found",
    "COURIER_IN_TRANSIT_TO_SENDER": "the courier is on the way to the seller",
    "COURIER_ARRIVED_TO_SENDER": "the courier has arrived at the seller",
    "COURIER_RECEIVED": "the courier has picked it up",
    "USER_WANTS_TO_CHANGE_DELIVERY_DATE": "the buyer wants another delivery date",
    "USER_WANTS_TO_CHANGE_ADDRESS": "the buyer wants another address",
    "PICKUP_SERVICE_RECEIVED": "the pickup point has received it",
    "READY_FOR_PICKUP": "ready to be picked up",
    "PICKUP_USER_RECEIVED": "the buyer has picked it up",
    "USER_RECEIVED": "the buyer has received it",
    "DELIVERY_SERVICE_DELIVERED": "the delivery service marked it delivered",
    "DELIVERED_USER_RECEIVED": "the buyer has received it",
    "DELIVERED_USER_NOT_RECEIVED": "marked delivered, but the buyer has not received it",
    "DELIVERY_USER_NOT_RECEIVED": "the buyer has not received it",
    # CANCELLED reasons
    "RESERVATION_EXPIRED": "the buyer did not finish checkout in time",
    "USER_NOT_PAID": "the buyer did not pay",
    "USER_UNREACHABLE": "the buyer could not be reached",
    "USER_CHANGED_MIND": "the buyer changed their mind",
    "USER_REFUSED_DELIVERY": "the buyer did not accept the delivery terms",
    "USER_REFUSED_PRODUCT": "the product did not suit the buyer",
    "USER_REFUSED_QUALITY": "the buyer was unhappy with the quality",
    "SHOP_FAILED": "the shop could not fulfil the order",
    "REPLACING_ORDER": "the buyer replaced it with another item",
    "PROCESSING_EXPIRED": "it was not processed in time",
    "PENDING_EXPIRED": "it was not confirmed in time",
    "SHOP_PENDING_CANCELLED": "the shop did not confirm it",
    "PENDING_CANCELLED": "it was not confirmed",
    "USER_FRAUD": "suspected fraud",
    "RESERVATION_FAILED": "the items could not be reserved",
    "USER_PLACED_OTHER_ORDER": "the buyer placed another order",
    "USER_BOUGHT_CHEAPER": "the buyer found it cheaper",
    "MISSING_ITEM": "an item is missing",
    "BROKEN_ITEM": "an item is damaged",
    "WRONG_ITEM": "a wrong item",
    "PICKUP_EXPIRED": "the storage time at the pickup point ran out",
    "DELIVERY_PROBLEMS": "delivery problems",
    "LATE_CONTACT": "the buyer was contacted too late",
    "CUSTOM": "another reason",
    "DELIVERY_SERVICE_FAILED": "the delivery service could not deliver it",
    "WAREHOUSE_FAILED_TO_SHIP": "the warehouse could not ship it",
    "DELIVERY_SERVICE_UNDELIVERED": "the delivery service did not deliver it",
    "DELIVERY_SERVICE_LOST": "the delivery service lost it",
    "SHIPPED_TO_WRONG_DELIVERY_SERVICE": "shipped to the wrong delivery service",
    "LOST": "lost",
    "SORTING_CENTER_LOST": "lost at the sorting centre",
    "USER_WANTED_ANOTHER_PAYMENT_METHOD": "the buyer wanted another payment method",
    "USER_RECEIVED_TECHNICAL_ERROR": "the buyer got a technical error",
    "USER_FORGOT_TO_USE_BONUS": "the buyer forgot to use a bonus",
    "TOO_MANY_DELIVERY_DATE_CHANGES": "the delivery date was moved too many times",
    "TOO_LONG_DELIVERY": "delivery was taking too long",
    "INCORRECT_PERSONAL_DATA": "the recipient's details are wrong for customs",
    "USER_IDENTIFICATION_MISMATCH": "the buyer's ID does not match the order",
    "PURCHASE_GROUP_THRESHOLD_NOT_REACHED_CANCELLED": (
        "the group purchase did not get enough buyers"
    ),
    "TECHNICAL_ERROR": "a technical error at Market",
    "SERVICE_FAULT": "a service fault",
    "COURIER_NOT_FOUND": "no courier was found",
    "CANCELLED_COURIER_NOT_FOUND": "no courier was found",
    "COURIER_NOT_COME_FOR_ORDER": "the courier did not come for it",
    "COURIER_NOT_DELIVER_ORDER": "the courier did not deliver it",
    "DELIVERY_NOT_MANAGED_REGION": "no delivery to this region",
    "INCOMPLETE_CONTACT_INFORMATION": "incomplete contact details",
    "INAPPROPRIATE_WEIGHT_SIZE": "the weight or size does not fit",
    "FULL_NOT_RANSOM": "the buyer did not take the order",
    "PRESCRIPTION_MISMATCH": "the prescription does not match",
    "DAMAGED_BOX": "the box is damaged",
    "WRONG_ITEM_DELIVERED": "a wrong item was delivered",
    "PICKUP_POINT_CLOSED": "the pickup point is closed",
    "USER_HAS_NO_TIME_TO_PICKUP_ORDER": "the buyer has no time to pick it up",
    "LEGAL_INFO_CHANGED": "the seller's legal details changed",
    "DROPOFF_LOST": "lost at the drop-off point",
    "DROPOFF_CLOSED": "the drop-off point is closed",
    "CUSTOMS_PROBLEMS": "customs problems",
    "UNKNOWN": "unknown",
}

SUBSTATUS_RU: dict[str, str] = {
    "STARTED": "подтверждён, можно начинать обработку",
    "PACKAGING": "собирается",
    "READY_TO_SHIP": "собран и готов к отправке",
    "SHIPPED": "отгружен в службу доставки",
    "AWAIT_CONFIRMATION": "ждёт подтверждения",
    "PREORDER": "предзаказ",
    "WAITING_FOR_STOCKS": "ждёт поступления товара",
    "ASYNC_PROCESSING": "проверяется Маркетом",
    "AS_PART_OF_MULTI_ORDER": "часть мультизаказа",
    "AWAIT_DELIVERY_DATES_CONFIRMATION": "ждёт подтверждения сроков доставки",
    "AWAIT_DELIVERY_DATES": "ждёт сроков доставки",
    "AWAIT_PAYMENT": "ждёт оплаты",
    "ANTIFRAUD": "проверяется антифродом Маркета",
    "WAITING_USER_INPUT": "ждёт действий покупателя",
    "WAITING_BANK_DECISION": "ждёт решения банка",
    "DEFERRED_PAYMENT": "отложенная оплата",
    "DELIVERY_SERVICE_RECEIVED": "служба доставки получила заказ",
    "READY_FOR_LAST_MILE": "готов к доставке покупателю",
    "LAST_MILE_STARTED": "едет к покупателю",
    "COURIER_SEARCH": "ищем курьера",
    "COURIER_FOUND": "курьер найден",
    "COURIER_IN_TRANSIT_TO_SENDER": "курьер едет к продавцу",
    "COURIER_ARRIVED_TO_SENDER": "курьер приехал к продавцу",
    "COURIER_RECEIVED": "курьер забрал заказ",
    "USER_WANTS_TO_CHANGE_DELIVERY_DATE": "покупатель хочет другую дату доставки",
    "USER_WANTS_TO_CHANGE_ADDRESS": "покупатель хочет другой адрес",
    "PICKUP_SERVICE_RECEIVED": "пункт выдачи получил заказ",
    "READY_FOR_PICKUP": "готов к выдаче",
    "PICKUP_USER_RECEIVED": "покупатель забрал заказ",
    "USER_RECEIVED": "покупатель получил заказ",
    "DELIVERY_SERVICE_DELIVERED": "служба доставки отметила его доставленным",
    "DELIVERED_USER_RECEIVED": "покупатель получил заказ",
    "DELIVERED_USER_NOT_RECEIVED": "отмечен доставленным, но покупатель его не получил",
    "DELIVERY_USER_NOT_RECEIVED": "покупатель его не получил",
    "RESERVATION_EXPIRED": "покупатель не завершил оформление вовремя",
    "USER_NOT_PAID": "покупатель не оплатил заказ",
    "USER_UNREACHABLE": "не удалось связаться с покупателем",
    "USER_CHANGED_MIND": "покупатель передумал",
    "USER_REFUSED_DELIVERY": "покупателя не устроили условия доставки",
    "USER_REFUSED_PRODUCT": "покупателю не подошёл товар",
    "USER_REFUSED_QUALITY": "покупателя не устроило качество",
    "SHOP_FAILED": "магазин не смог выполнить заказ",
    "REPLACING_ORDER": "покупатель решил заменить товар",
    "PROCESSING_EXPIRED": "заказ не обработали вовремя",
    "PENDING_EXPIRED": "заказ не подтвердили вовремя",
    "SHOP_PENDING_CANCELLED": "магазин не подтвердил заказ",
    "PENDING_CANCELLED": "заказ не подтвердили",
    "USER_FRAUD": "подозрение на мошенничество",
    "RESERVATION_FAILED": "не удалось зарезервировать товар",
    "USER_PLACED_OTHER_ORDER": "покупатель оформил другой заказ",
    "USER_BOUGHT_CHEAPER": "покупатель нашёл дешевле",
    "MISSING_ITEM": "товара нет в наличии",
    "BROKEN_ITEM": "товар повреждён",
    "WRONG_ITEM": "не тот товар",
    "PICKUP_EXPIRED": "истёк срок хранения в пункте выдачи",
    "DELIVERY_PROBLEMS": "проблемы с доставкой",
    "LATE_CONTACT": "с покупателем связались слишком поздно",
    "CUSTOM": "другая причина",
    "DELIVERY_SERVICE_FAILED": "служба доставки не смогла доставить заказ",
    "WAREHOUSE_FAILED_TO_SHIP": "склад не смог отгрузить заказ",
    "DELIVERY_SERVICE_UNDELIVERED": "служба доставки не доставила заказ",
    "DELIVERY_SERVICE_LOST": "служба доставки потеряла заказ",
    "SHIPPED_TO_WRONG_DELIVERY_SERVICE": "отгружен не в ту службу доставки",
    "LOST": "утерян",
    "SORTING_CENTER_LOST": "утерян в сортировочном центре",
    "USER_WANTED_ANOTHER_PAYMENT_METHOD": "покупатель хотел другой способ оплаты",
    "USER_RECEIVED_TECHNICAL_ERROR": "у покупателя произошла техническая ошибка",
    "USER_FORGOT_TO_USE_BONUS": "покупатель забыл применить бонус",
    "TOO_MANY_DELIVERY_DATE_CHANGES": "дату доставки переносили слишком много раз",
    "TOO_LONG_DELIVERY": "доставка шла слишком долго",
    "INCORRECT_PERSONAL_DATA": "неверные данные получателя для таможни",
    "USER_IDENTIFICATION_MISMATCH": "документ покупателя не совпадает с данными заказа",
    "PURCHASE_GROUP_THRESHOLD_NOT_REACHED_CANCELLED": (
        "групповая покупка не набрала нужного числа покупателей"
    ),
    "TECHNICAL_ERROR": "техническая ошибка на стороне Маркета",
    "SERVICE_FAULT": "сбой сервиса",
    "COURIER_NOT_FOUND": "курьер не найден",
    "CANCELLED_COURIER_NOT_FOUND": "курьер не найден",
    "COURIER_NOT_COME_FOR_ORDER": "курьер не приехал за заказом",
    "COURIER_NOT_DELIVER_ORDER": "курьер не доставил заказ",
    "DELIVERY_NOT_MANAGED_REGION": "нет доставки в этот регион",
    "INCOMPLETE_CONTACT_INFORMATION": "неполные контактные данные",
    "INAPPROPRIATE_WEIGHT_SIZE": "не подходят вес или габариты",
    "FULL_NOT_RANSOM": "покупатель не выкупил заказ",
    "PRESCRIPTION_MISMATCH": "рецепт не подходит",
    "DAMAGED_BOX": "повреждена упаковка",
    "WRONG_ITEM_DELIVERED": "доставлен не тот товар",
    "PICKUP_POINT_CLOSED": "пункт выдачи закрыт",
    "USER_HAS_NO_TIME_TO_PICKUP_ORDER": "покупатель не успевает забрать заказ",
    "LEGAL_INFO_CHANGED": "изменились юридические данные продавца",
    "DROPOFF_LOST": "утерян в пункте приёма",
    "DROPOFF_CLOSED": "пункт приёма закрыт",
    "CUSTOMS_PROBLEMS": "проблемы на таможне",
    "UNKNOWN": "неизвестно",
}
