from domain.notifications.base import Notification, Notifier
from domain.notifications.email import EmailNotifier
from domain.notifications.sms import SmsNotifier

__all__ = ["EmailNotifier", "Notification", "Notifier", "SmsNotifier"]
