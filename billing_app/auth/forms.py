from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp

from billing_app.auth.users import PASSWORD_MAX_LENGTH


# no control characters (a NUL byte cannot even be stored): the form says so, the database never sees it
PLAIN_TEXT = Regexp(r"^[^\x00-\x1f\x7f]*$", message="That is not a valid email address.")


class SignupForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address."), PLAIN_TEXT,
                                            Length(max=320)])
    # the length rule is checked by users.create_user, the one place that owns it
    password = PasswordField("Password", validators=[DataRequired(message="Choose a password.")])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address."), PLAIN_TEXT,
                                            Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."),
                                                     Length(max=PASSWORD_MAX_LENGTH)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(message="Enter your email address."), PLAIN_TEXT,
                                            Length(max=320)])


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(message="Choose a password.")])


class EmailChangeForm(FlaskForm):
    email = EmailField("New email", validators=[DataRequired(message="Enter the new address."), PLAIN_TEXT,
                                                Length(max=320)])
    current_password = PasswordField("Your password", validators=[
        DataRequired(message="Enter your password."), Length(max=PASSWORD_MAX_LENGTH)])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[
        DataRequired(message="Enter your current password."), Length(max=PASSWORD_MAX_LENGTH)])
    password = PasswordField("New password", validators=[DataRequired(message="Choose a password.")])
