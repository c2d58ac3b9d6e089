# language: da
Egenskab: Sletning af en enkelt borger
  En borger, der er henvist ved en fejl, eller som har tilbagekaldt sit samtykke og beder
  om at blive slettet (databeskyttelsesforordningen art. 17, stk. 1, litra b), slettes,
  når en social navigatør eller databeskyttelsesrådgiveren har foreslået det med en
  begrundelse, og en dataansvarlig i organisationen, der ikke selv har foreslået det, har
  godkendt det. Sletningen destruerer borgerens nøgler og sletter oplysningerne, men det,
  der skal bevares, bevares: samtykkeregistreringerne uden identitet, så samtykket fortsat
  kan påvises (art. 7, stk. 1), og sletningsposten i loggen (policies/erasure.yaml).

  Baggrund:
    Givet en borger, der er henvist og har givet trivselssamtykke

  Regel: Sletning på anmodning bevarer samtykkeposten uden identitet

    Scenarie: sletning på anmodning bevarer samtykkeposten uden identitet
      Givet borgeren har tilbagekaldt trivselssamtykket
      Når navigatøren foreslår sletning med begrundelsen "Anmodning om sletning efter tilbagekaldelse"
      Og en anden dataansvarlig godkender forslaget
      Så er borgeren slettet efter reglen "erasure_erasure_request_after_withdrawal"
      Og borgeren kan ikke findes på sit CPR-nummer
      Og samtykkeregistreringen findes stadig, uden identitet
      Og svaret til borgeren nævner, at samtykkeregistreringerne bevares

    Scenarie: sletning på anmodning kræver, at samtykket er tilbagekaldt
      Når navigatøren foreslår sletning med begrundelsen "Anmodning om sletning efter tilbagekaldelse"
      Så afvises forslaget med "Registrér tilbagekaldelsen først"

  Regel: En borger henvist ved en fejl slettes, når den dataansvarlige godkender

    Scenarie: en borger henvist ved en fejl slettes, når den dataansvarlige godkender
      Når navigatøren foreslår sletning med begrundelsen "Henvist ved en fejl"
      Så er borgeren ikke slettet endnu
      Når en anden dataansvarlig godkender forslaget
      Så er borgeren slettet efter reglen "erasure_referred_by_mistake"
      Og forslaget er "Gennemført – borgeren er slettet"

  Regel: Forslagsstilleren kan ikke selv godkende

    Scenarie: forslagsstilleren kan ikke selv godkende
      Givet navigatøren har foreslået sletning med begrundelsen "Henvist ved en fejl"
      Og navigatøren er siden blevet dataansvarlig
      Når navigatøren forsøger at godkende sit eget forslag
      Så afvises godkendelsen med "kan ikke selv godkende"
      Og er borgeren ikke slettet endnu
